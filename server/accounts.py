"""Local accounts, as Argo CD defines them: ``admin`` (password in ferry-secret ``admin.password``,
a random initial password in the Secret ``ferry-initial-admin-secret`` on first start) and more
accounts from ferry-cm (``accounts.<name>: login, apiKey``, ``accounts.<name>.enabled``) with
their bcrypt hashes, password change times and API tokens in ferry-secret.

bcrypt runs in a small thread pool (:class:`Bcrypt`), never on the event loop that serves every
API call: a flood of logins costs at most the pool's threads, and logins beyond its queue fail fast
(RESOURCE_EXHAUSTED) instead of piling up. Unknown, disabled and over-long inputs are checked
against a dummy hash of the same cost as real ones, so they take the same time.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import secrets as pysecrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import bcrypt

from ferry.errors import InvalidArgument, ResourceExhausted
from ferry.kube.client import KubeClient
from ferry.kube.errors import Conflict
from server.secretstore import SecretStore

INITIAL_ADMIN_SECRET = "ferry-initial-admin-secret"  # noqa: S105 (a Secret's name)
MAX_PASSWORD_BYTES = 72  # bcrypt ignores everything after 72 bytes; refuse rather than truncate
# The cost of every hash ferry makes (Argo CD's too): 2^10 rounds, about 60 ms on one core.
BCRYPT_ROUNDS = 10
# Compared against when the user does not exist (or may not log in), so an unknown user costs as
# much as a wrong password: the same cost as real hashes, or the difference in time names the users.
_DUMMY_HASH = bcrypt.hashpw(b"ferry-dummy-password", bcrypt.gensalt(rounds=BCRYPT_ROUNDS))


@dataclass(frozen=True)
class Account:
    name: str
    enabled: bool
    capabilities: frozenset[str]
    password_hash: str = ""
    password_mtime: float = 0.0
    tokens: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    # login sessions issued at or before this unix time are refused (every session was ended)
    sessions_not_before: float = 0.0


def _mtime(value: str) -> float:
    if not value:
        return 0.0
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _prefix(name: str) -> str:
    """Where ferry-secret keeps an account's password and times."""
    return "admin" if name == "admin" else f"accounts.{name}"


def _stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hash_password(password: str) -> str:
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidArgument(f"passwords are limited to {MAX_PASSWORD_BYTES} bytes")
    if len(password) < 8:
        raise InvalidArgument("passwords need at least 8 characters")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def hash_cost(hashed: str | bytes) -> int:
    """The cost (log2 rounds) of a bcrypt hash ``$2b$<cost>$...``; 0 when it is none."""
    text = hashed.decode() if isinstance(hashed, bytes) else hashed
    parts = text.split("$")
    return int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else 0


def dummy_hash() -> bytes:
    """The hash unknown users are checked against (exposed for tests of its cost)."""
    return _DUMMY_HASH


def check_password(password: str, hashed: str) -> bool:
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(b"x", _DUMMY_HASH)
        return False
    if not hashed:
        bcrypt.checkpw(encoded, _DUMMY_HASH)
        return False
    try:
        return bcrypt.checkpw(encoded, hashed.encode())
    except ValueError:
        return False


class Bcrypt:
    """bcrypt off the event loop: at most ``workers`` hashes run at once (in threads: bcrypt
    releases the GIL, so the loop keeps serving), at most ``max_pending`` calls wait or run in
    all; one more is refused at once with RESOURCE_EXHAUSTED (Argo CD's
    ARGOCD_MAX_CONCURRENT_LOGIN_REQUESTS_COUNT, 50 by default, has the same role)."""

    def __init__(self, *, workers: int = 2, max_pending: int = 50) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ferry-bcrypt")
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    async def _run(self, function: Callable[[], Any]) -> Any:
        if self._pending >= self.max_pending:
            raise ResourceExhausted("too many logins in progress; try again in a moment")
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, function)
        finally:
            self._pending -= 1

    async def check(self, password: str, hashed: str) -> bool:
        result: bool = await self._run(lambda: check_password(password, hashed))
        return result

    async def hash(self, password: str) -> str:
        result: str = await self._run(lambda: hash_password(password))
        return result

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Accounts:
    def __init__(
        self, store: SecretStore, settings: Callable[[], dict[str, str]], *, hasher: Bcrypt | None = None
    ) -> None:
        self.store = store
        self._settings_source = settings
        self.bcrypt = hasher or Bcrypt()

    @property
    def _settings(self) -> dict[str, str]:
        return self._settings_source()

    def names(self) -> frozenset[str]:
        """Every local account name (enabled or not): SSO subjects may never take one of them."""
        return frozenset(self._names())

    def _names(self) -> list[str]:
        names = {"admin"}
        for key in self._settings:
            if key.startswith("accounts.") and key.count(".") == 1:
                names.add(key.split(".", 1)[1])
        return sorted(names)

    def get(self, name: str) -> Account | None:
        if name not in self._names():
            return None
        data = self.store.data()
        if name == "admin":
            enabled = self._settings.get("admin.enabled", "true").lower() != "false"
            capabilities = frozenset({"login"})
            password, mtime = data.get("admin.password", ""), data.get("admin.passwordMtime", "")
        else:
            enabled = self._settings.get(f"accounts.{name}.enabled", "true").lower() != "false"
            capabilities = frozenset(
                c.strip() for c in self._settings.get(f"accounts.{name}", "").split(",") if c.strip()
            )
            password = data.get(f"accounts.{name}.password", "")
            mtime = data.get(f"accounts.{name}.passwordMtime", "")
        tokens = tuple(json.loads(data.get(f"accounts.{name}.tokens", "") or "[]"))
        ended = _mtime(data.get(f"{_prefix(name)}.sessionsNotBefore", ""))
        return Account(name, enabled, capabilities, password, _mtime(mtime), tokens, ended)

    def all(self) -> list[Account]:
        return [a for a in (self.get(n) for n in self._names()) if a is not None]

    async def set_password(self, name: str, password: str) -> None:
        hashed = await self.bcrypt.hash(password)
        prefix = _prefix(name)
        await self.store.update(lambda _: {f"{prefix}.password": hashed, f"{prefix}.passwordMtime": _stamp()})

    async def end_sessions(self, name: str) -> None:
        """Refuses every login session of ``name`` issued until now (API tokens stay valid)."""
        await self.store.update(lambda _: {f"{_prefix(name)}.sessionsNotBefore": _stamp()})

    async def ensure_admin(self, client: KubeClient, namespace: str) -> str | None:
        """On first start: a random admin password, stored hashed, shown once in
        ``ferry-initial-admin-secret``. Returns it when it was just created."""
        if self.store.get("admin.password"):
            return None
        password = pysecrets.token_urlsafe(12)
        hashed = await self.bcrypt.hash(password)
        created = await self.store.update(
            lambda d: (
                {} if d.get("admin.password") else {"admin.password": hashed, "admin.passwordMtime": _stamp()}
            )
        )
        if created.get("admin.password") != hashed:
            return None  # another replica won the race
        secret: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": INITIAL_ADMIN_SECRET, "namespace": namespace},
            "type": "Opaque",
            "data": {"password": base64.b64encode(password.encode()).decode()},
        }
        try:
            await client.create(secret)
        except Conflict:
            secret_info = await client.resource("v1", "Secret")
            existing = await client.get(secret_info, INITIAL_ADMIN_SECRET, namespace)
            secret["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
            await client.replace(secret)
        return password

    async def add_token(self, name: str, token_id: str, issued_at: int, expires_at: int) -> None:
        key = f"accounts.{name}.tokens"

        def change(data: dict[str, str]) -> dict[str, str | None]:
            tokens = json.loads(data.get(key, "") or "[]")
            tokens.append({"id": token_id, "iat": issued_at, "exp": expires_at})
            return {key: json.dumps(tokens)}

        await self.store.update(change)

    async def delete_token(self, name: str, token_id: str) -> bool:
        key = f"accounts.{name}.tokens"
        found = False

        def change(data: dict[str, str]) -> dict[str, str | None]:
            nonlocal found
            tokens = json.loads(data.get(key, "") or "[]")
            kept = [t for t in tokens if t.get("id") != token_id]
            found = len(kept) != len(tokens)
            return {key: json.dumps(kept)}

        await self.store.update(change)
        return found

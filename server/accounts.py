"""Local accounts, as Argo CD defines them: ``admin`` (password in ferry-secret ``admin.password``,
a random initial password in the Secret ``ferry-initial-admin-secret`` on first start) and more
accounts from ferry-cm (``accounts.<name>: login, apiKey``, ``accounts.<name>.enabled``) with
their bcrypt hashes, password change times and API tokens in ferry-secret.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets as pysecrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bcrypt

from ferry.errors import InvalidArgument
from ferry.kube.client import KubeClient
from ferry.kube.errors import Conflict
from server.secretstore import SecretStore

INITIAL_ADMIN_SECRET = "ferry-initial-admin-secret"  # noqa: S105 (a Secret's name)
MAX_PASSWORD_BYTES = 72  # bcrypt ignores everything after 72 bytes; refuse rather than truncate
# Compared against when the user does not exist, so an unknown user costs as much as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"ferry-dummy-password", bcrypt.gensalt())


@dataclass(frozen=True)
class Account:
    name: str
    enabled: bool
    capabilities: frozenset[str]
    password_hash: str = ""
    password_mtime: float = 0.0
    tokens: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def _mtime(value: str) -> float:
    if not value:
        return 0.0
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def hash_password(password: str) -> str:
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidArgument(f"passwords are limited to {MAX_PASSWORD_BYTES} bytes")
    if len(password) < 8:
        raise InvalidArgument("passwords need at least 8 characters")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=10)).decode()


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


class Accounts:
    def __init__(self, store: SecretStore, settings: Callable[[], dict[str, str]]) -> None:
        self.store = store
        self._settings_source = settings

    @property
    def _settings(self) -> dict[str, str]:
        return self._settings_source()

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
        return Account(name, enabled, capabilities, password, _mtime(mtime), tokens)

    def all(self) -> list[Account]:
        return [a for a in (self.get(n) for n in self._names()) if a is not None]

    async def set_password(self, name: str, password: str) -> None:
        hashed = hash_password(password)
        prefix = "admin" if name == "admin" else f"accounts.{name}"
        await self.store.update(lambda _: {f"{prefix}.password": hashed, f"{prefix}.passwordMtime": _stamp()})

    async def ensure_admin(self, client: KubeClient, namespace: str) -> str | None:
        """On first start: a random admin password, stored hashed, shown once in
        ``ferry-initial-admin-secret``. Returns it when it was just created."""
        if self.store.get("admin.password"):
            return None
        password = pysecrets.token_urlsafe(12)
        created = await self.store.update(
            lambda d: (
                {}
                if d.get("admin.password")
                else {"admin.password": hash_password(password), "admin.passwordMtime": _stamp()}
            )
        )
        if not check_password(password, created.get("admin.password", "")):
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

"""Git remotes: reference look-ups, and one bare mirror per repository URL fetched on demand.

Network operations use the git CLI: it honours a per-request TLS and SSH policy (CA bundle,
client certificate, skip-verify, private key, known_hosts) through configuration passed in the
environment of that one command, which libgit2's process-wide settings cannot. Objects are read
with pygit2 from the local mirror.

Credentials never reach argv (other local users can read it), logs, errors or metric labels: they
travel in the child's environment and key files in a private temp directory, and every message
is redacted.

Concurrency: per URL, one lock serialises fetches and mirror repairs; a request for a commit the
mirror already has never fetches, so 50 concurrent requests for one new revision fetch once.
Reference look-ups are cached for ``ref_cache_seconds`` and shared by concurrent callers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pygit2

from ferry import subproc
from ferry.errors import (
    FailedPrecondition,
    FerryError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from ferry.redact import strip_userinfo
from ferry.repourl import identity, normalize, try_parse
from ferry.v1 import types_pb2
from reposerver import metrics

log = logging.getLogger(__name__)

GIT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Credentials:
    """How to reach one repository; built from the request's Repository message."""

    username: str = ""
    password: str = ""
    bearer_token: str = ""
    ssh_private_key: str = ""
    known_hosts: str = ""
    insecure: bool = False
    ca_data: str = ""
    tls_client_cert: str = ""
    tls_client_key: str = ""

    @staticmethod
    def from_repository(repo: types_pb2.Repository) -> Credentials:
        return Credentials(
            username=repo.username,
            password=repo.password,
            bearer_token=repo.bearer_token,
            ssh_private_key=repo.ssh_private_key,
            known_hosts=repo.known_hosts,
            insecure=repo.insecure,
            ca_data=repo.ca_data,
            tls_client_cert=repo.tls_client_cert_data,
            tls_client_key=repo.tls_client_cert_key,
        )

    def identity(self) -> str:
        """A digest of what authenticates (\"anonymous\" without anything): mirrors and reference
        caches are kept per repository *and* per credentials, so content fetched with one set of
        credentials is never served to a request with other credentials or none."""
        material = [self.username, self.password, self.bearer_token, self.ssh_private_key]
        material += [self.tls_client_cert, self.tls_client_key]
        if not any(material):
            return "anonymous"
        return hashlib.sha256(json.dumps(material).encode()).hexdigest()[:24]

    def secrets(self) -> list[str]:
        values = [self.password, self.bearer_token, self.ssh_private_key, self.tls_client_key]
        if self.username and self.password:
            values.append(base64.b64encode(f"{self.username}:{self.password}".encode()).decode())
        values += [line for line in self.ssh_private_key.splitlines() if len(line) > 20]
        return [v for v in values if v]


normalize_url = normalize


def _split_userinfo(url: str, creds: Credentials) -> tuple[str, Credentials]:
    """Credentials embedded in an http(s) URL move into ``creds`` (they must not reach argv); the
    URL is split by ferry.repourl, so ``?``/``#`` tricks never decide the host."""
    parsed = try_parse(url)
    if parsed is None or parsed.scheme not in ("http", "https") or not (parsed.username or parsed.password):
        return url, creds
    if not creds.username and not creds.password:
        creds = Credentials(**{**creds.__dict__, "username": parsed.username, "password": parsed.password})
    scheme, _, rest = url.strip().partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}", creds


def mirror_key(url: str, creds: Credentials) -> str:
    """The repository's identity and the credentials' identity: one mirror and one reference
    cache per pair."""
    remote, creds = _split_userinfo(url, creds)
    return f"{identity(remote)}|{creds.identity()}"


@contextlib.asynccontextmanager
async def git_environment(creds: Credentials, *, allow_file: bool = False) -> AsyncIterator[dict[str, str]]:
    """Environment for one git command honouring ``creds``; key files live in a private dir.
    ``allow_file``: the file transport, only for a ``file://`` URL the repo server allows
    (--allow-local-repos); never for tenants' network URLs."""
    tmp = Path(tempfile.mkdtemp(prefix="ferry-git-"))
    try:
        tmp.chmod(0o700)
        config: list[tuple[str, str]] = [
            ("protocol.file.allow", "always" if allow_file else "never"),
            ("credential.helper", ""),
        ]
        if creds.bearer_token:
            config.append(("http.extraHeader", f"Authorization: Bearer {creds.bearer_token}"))
        elif creds.username or creds.password:
            token = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
            config.append(("http.extraHeader", f"Authorization: Basic {token}"))
        if creds.insecure:
            config.append(("http.sslVerify", "false"))
        if creds.ca_data:
            (tmp / "ca.pem").write_text(creds.ca_data)
            config.append(("http.sslCAInfo", str(tmp / "ca.pem")))
        if creds.tls_client_cert and creds.tls_client_key:
            (tmp / "client.pem").write_text(creds.tls_client_cert)
            (tmp / "client.key").write_text(creds.tls_client_key)
            config += [("http.sslCert", str(tmp / "client.pem")), ("http.sslKey", str(tmp / "client.key"))]
        ssh = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20"]
        if creds.ssh_private_key:
            key = tmp / "id_key"
            key.write_text(creds.ssh_private_key.rstrip("\n") + "\n")
            key.chmod(0o600)
            ssh += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
        if creds.insecure:
            ssh += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        elif creds.known_hosts:
            (tmp / "known_hosts").write_text(creds.known_hosts.rstrip("\n") + "\n")
            ssh += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={tmp / 'known_hosts'}"]
        else:
            ssh += ["-o", "StrictHostKeyChecking=yes"]
        config.append(("core.sshCommand", " ".join(ssh)))
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_COUNT": str(len(config)),
        }
        if (
            creds.known_hosts == ""
            and not creds.insecure
            and Path.home().joinpath(".ssh", "known_hosts").exists()
        ):
            # system policy: the service user's known_hosts (HOME is redirected above)
            config[-1] = (
                "core.sshCommand",
                " ".join([*ssh, "-o", f"UserKnownHostsFile={Path.home() / '.ssh' / 'known_hosts'}"]),
            )
        for index, (key_name, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{index}"] = key_name
            env[f"GIT_CONFIG_VALUE_{index}"] = value
        yield env
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Command-line config (above every config file, a mirror's own included): no hook and no
# filesystem monitor ever runs, whatever a config file says.
_HARDENING = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


def protocols_for(remote: str) -> tuple[str, ...]:
    """Transports git may use for ``remote`` (GIT_ALLOW_PROTOCOL): ferry's network transports,
    plus ``file`` only when the remote itself is a local repository (whether such a remote is
    allowed at all is decided before git runs)."""
    local = remote.startswith("file://") or ("://" not in remote and remote.startswith(("/", ".")))
    return (*subproc.GIT_PROTOCOLS, "file") if local else subproc.GIT_PROTOCOLS


# What ferry writes into a mirror's config (libgit2's init): these keys with these values, plus
# the filesystem-capability keys libgit2 adds on some filesystems (any value).
_MIRROR_CONFIG = {"core.bare": "true", "core.repositoryformatversion": "0", "core.filemode": "true"}
_MIRROR_FS_KEYS = frozenset({"core.symlinks", "core.ignorecase", "core.precomposeunicode"})


def mirror_tampering(path: Path) -> str | None:
    """Why the mirror at ``path`` is not as ferry wrote it (config keys ferry did not write, a
    hook, a link to another repository's objects), or None. Nothing but ferry writes there, so
    any difference is an attack (security review finding 3) or damage: the mirror is discarded."""
    try:
        entries = [(str(e.name), str(e.value)) for e in pygit2.Config(str(path / "config"))]
    except (pygit2.GitError, OSError, ValueError) as err:
        return f"config unreadable: {err}"
    foreign = sorted(
        {
            name
            for name, value in entries
            if name.lower() not in _MIRROR_FS_KEYS and _MIRROR_CONFIG.get(name.lower()) != value
        }
    )
    if foreign:
        return f"config has keys ferry did not write: {', '.join(foreign)}"
    hooks = path / "hooks"
    if hooks.is_dir() and any(not p.name.endswith(".sample") for p in hooks.iterdir()):
        return "hooks directory holds hooks"
    for name in ("commondir", "gitdir", "objects/info/alternates"):
        if (path / name).exists():
            return f"{name} present"
    return None


def classify(url: str, err: subproc.ToolError | subproc.ToolTimeout) -> FerryError:
    """A git failure as the error a client should see, naming the repository (no credentials)."""
    safe = strip_userinfo(url)
    if isinstance(err, subproc.ToolTimeout):
        return Unavailable(f"repository {safe}: git did not answer within {err.timeout:g}s")
    text = err.stderr
    lower = text.lower()
    detail = text.strip().splitlines()[-1] if text.strip() else f"git exited {err.returncode}"
    if any(
        s in lower
        for s in (
            "connection refused",
            "could not resolve host",
            "timed out",
            "network is unreachable",
            "connection reset",
            "no route to host",
            "failed to connect",
        )
    ):
        return Unavailable(f"repository {safe} unreachable: {detail}")
    if "host key verification failed" in lower or "no matching host key" in lower:
        return FailedPrecondition(
            f"repository {safe}: SSH host key not trusted (known_hosts policy): {detail}"
        )
    if "ssl certificate" in lower or "certificate verify failed" in lower or "server certificate" in lower:
        return FailedPrecondition(f"repository {safe}: TLS certificate not trusted: {detail}")
    if any(
        s in lower
        for s in (
            "authentication failed",
            "permission denied",
            "access denied",
            "could not read username",
            "requested url returned error: 401",
            "requested url returned error: 403",
            "invalid credentials",
        )
    ):
        return PermissionDenied(f"repository {safe}: access denied: {detail}")
    if any(
        s in lower
        for s in (
            "repository not found",
            "does not appear to be a git repository",
            "not found",
            "no such file or directory",
            "requested url returned error: 404",
            "no such repository",
        )
    ):
        return NotFound(f"repository {safe} not found: {detail}")
    return Unavailable(f"repository {safe} unreachable: {detail}")


@dataclass
class _Refs:
    fetched_at: float
    refs: dict[str, str]  # full ref name -> commit SHA (tags peeled)
    head: str | None  # symbolic target of HEAD, e.g. refs/heads/main
    started_at: float = 0.0  # time.monotonic() when its ls-remote started: it saw every push before


def parse_ls_remote(text: str) -> _Refs:
    refs: dict[str, str] = {}
    head: str | None = None
    peeled: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ref: "):
            target, _, name = line[5:].partition("\t")
            if name == "HEAD":
                head = target
            continue
        sha, _, name = line.partition("\t")
        if not name:
            continue
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            refs[name] = sha
    refs.update(peeled)  # annotated tags resolve to the commit they point at
    return _Refs(time.monotonic(), refs, head)


# Written into a mirror when it is used (at most once per TOUCH_SECONDS): what garbage collection
# of idle mirrors reads. git ignores unknown files in a repository directory.
LAST_USED = "ferry-last-used"
TOUCH_SECONDS = 3600.0
_TRASH_PREFIX = ".collected-"


def _touch(path: Path) -> None:
    marker = path / LAST_USED
    try:
        if time.time() - marker.stat().st_mtime < TOUCH_SECONDS:
            return
    except FileNotFoundError:
        pass
    with contextlib.suppress(OSError):  # a mirror being discarded meanwhile
        marker.touch()
        os.utime(marker)


def _last_used(path: Path) -> float:
    for candidate in (path / LAST_USED, path):
        with contextlib.suppress(OSError):
            return candidate.stat().st_mtime
    return 0.0


@dataclass
class Mirrors:
    """Bare mirrors under ``root``, one per repository and credential identity (``mirror_key``).

    Every use touches the mirror's ``ferry-last-used`` marker; ``collect`` removes the mirrors
    nobody used for longer than the repo server's ``--mirror-max-idle`` (one per credential
    identity per repository would otherwise pile up for ever). It decides and moves a mirror
    aside in one synchronous step on the event loop, so a request that uses the mirror either
    touched it first (and it stays) or comes after (and clones it again)."""

    root: Path
    ref_cache_seconds: float = 60.0
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _refs: dict[str, _Refs] = field(default_factory=dict)
    # the ls-remote running for a URL: when it started, and its result to come
    _refs_inflight: dict[str, tuple[float, asyncio.Future[_Refs]]] = field(default_factory=dict)

    def path_for(self, url: str, creds: Credentials | None = None) -> Path:
        key = mirror_key(url, creds or Credentials())
        return self.root / hashlib.sha256(key.encode()).hexdigest()[:24]

    def _lock(self, url: str, creds: Credentials) -> asyncio.Lock:
        return self._locks.setdefault(self.path_for(url, creds).name, asyncio.Lock())

    def collect(self, max_idle_seconds: float, *, now: float | None = None) -> list[Path]:
        """Moves every mirror unused for more than ``max_idle_seconds`` (and not being fetched)
        out of the way; returns where they went, for ``remove`` to delete off the event loop."""
        if not self.root.is_dir():
            return []
        now = time.time() if now is None else now
        moved = []
        for path in sorted(self.root.iterdir()):
            if path.name.startswith(_TRASH_PREFIX):
                moved.append(path)  # left over by a repo server that stopped mid-removal
                continue
            lock = self._locks.get(path.name)
            if not path.is_dir() or (lock is not None and lock.locked()):
                continue
            if now - _last_used(path) <= max_idle_seconds:
                continue
            target = path.with_name(f"{_TRASH_PREFIX}{path.name}-{time.monotonic_ns()}")
            with contextlib.suppress(OSError):
                path.rename(target)
                moved.append(target)
                self._locks.pop(path.name, None)
                metrics.MIRRORS_COLLECTED.inc()
                log.info(
                    "idle mirror removed",
                    extra={"mirror": path.name, "idle_seconds": int(now - _last_used(target))},
                )
        return moved

    @staticmethod
    def remove(paths: list[Path]) -> None:
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)

    async def _git(
        self, url: str, creds: Credentials, request_type: str, args: list[str], cwd: Path | None = None
    ) -> str:
        repo_label = normalize_url(url)
        remote, creds = _split_userinfo(url, creds)
        if remote.startswith("-"):
            raise InvalidArgument(f"repository URL {remote!r} is not a URL")
        metrics.GIT_REQUESTS.labels(repo_label, request_type).inc()
        start = time.monotonic()
        try:
            allow_file = remote.strip().lower().startswith("file://")  # the repo server checked it
            async with git_environment(creds, allow_file=allow_file) as env:
                argv = ["git", *_HARDENING, *args]
                argv = [remote if a == "{url}" else a for a in argv]
                done = await subproc.run(
                    argv,
                    timeout=GIT_TIMEOUT,
                    env=env,
                    cwd=cwd,
                    secrets=creds.secrets(),
                    allow_protocols=protocols_for(remote),
                )
                return done.stdout.decode(errors="replace")
        except (subproc.ToolError, subproc.ToolTimeout) as err:
            metrics.GIT_FAILURES.labels(repo_label, request_type).inc()
            raise classify(remote, err) from None
        except subproc.ToolLimitExceeded as err:
            metrics.GIT_FAILURES.labels(repo_label, request_type).inc()
            raise ResourceExhausted(f"repository {strip_userinfo(remote)}: {err.message}") from None
        finally:
            metrics.GIT_REQUEST_SECONDS.labels(repo_label, request_type).observe(time.monotonic() - start)

    async def refs(
        self, url: str, creds: Credentials, *, no_cache: bool = False, read_after: float | None = None
    ) -> _Refs:
        """The remote's references (``git ls-remote``), cached briefly and shared by concurrent callers.

        ``no_cache`` asks for references read after the call — or after ``read_after`` (Unix
        time, when a refresh was asked for): it takes a read that started since, shares a running
        one that did, or waits for the running one to end and shares the next. The apps one
        webhook refreshes so share one ls-remote, and each still sees every push before it.
        """
        key = mirror_key(url, creds)
        asked_at = time.monotonic()
        if read_after is not None:  # the same moment on the monotonic clock, never in the future
            asked_at = min(asked_at, asked_at - (time.time() - read_after))
        cached = self._refs.get(key)
        if cached and not no_cache and asked_at - cached.fetched_at < self.ref_cache_seconds:
            return cached
        if cached and no_cache and cached.started_at >= asked_at:
            return cached
        while (inflight := self._refs_inflight.get(key)) is not None:
            started_at, running = inflight
            # one that started before a no_cache call may have read the remote before a push this
            # caller knows about: wait for it to end, then share (or start) the next one
            fresh_enough = not no_cache or started_at >= asked_at
            try:
                result = await asyncio.shield(running)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is None or task.cancelling():
                    raise  # this caller was cancelled
                continue  # the caller that ran it was: ask again
            except Exception:
                if fresh_enough:
                    raise
                continue
            if fresh_enough:
                return result
        future: asyncio.Future[_Refs] = asyncio.get_running_loop().create_future()
        started_at = time.monotonic()
        self._refs_inflight[key] = (started_at, future)
        try:
            text = await self._git(url, creds, "ls-remote", ["ls-remote", "--symref", "{url}"])
            result = parse_ls_remote(text)
            result.started_at = started_at
            self._refs[key] = result
            future.set_result(result)
            return result
        except BaseException as err:
            future.set_exception(err)
            future.exception()  # mark retrieved: callers that did not wait must not warn
            raise
        finally:
            self._refs_inflight.pop(key, None)

    def open(self, url: str, creds: Credentials | None = None) -> pygit2.Repository | None:
        path = self.path_for(url, creds)
        if not (path / "HEAD").exists():
            return None
        try:
            return pygit2.Repository(str(path))
        except (pygit2.GitError, KeyError, ValueError):
            return None

    @staticmethod
    def _has(repo: pygit2.Repository | None, sha: str) -> bool:
        if repo is None:
            return False
        try:
            return isinstance(repo.revparse_single(sha).peel(pygit2.Commit), pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return False

    async def ensure_commit(self, url: str, creds: Credentials, sha: str) -> pygit2.Repository:
        """A mirror that has commit ``sha`` (fetching once if needed, re-cloning a corrupt mirror)."""
        repo = self.open(url, creds)
        if self._has(repo, sha):
            assert repo is not None
            _touch(self.path_for(url, creds))
            return repo
        async with self._lock(url, creds):
            repo = self.open(url, creds)  # another request may have fetched it while we waited
            if self._has(repo, sha):
                assert repo is not None
                return repo
            for attempt in (1, 2):
                try:
                    await self._fetch(url, creds, sha)
                    repo = self.open(url, creds)
                    if repo is None:
                        raise _CorruptMirror("mirror unreadable after fetch")
                    break
                except _CorruptMirror as err:
                    if attempt == 2:
                        raise Unavailable(
                            f"repository {normalize_url(url)}: mirror unusable: {err}"
                        ) from None
                    self._discard(url, creds, str(err))
            if not self._has(repo, sha):
                raise NotFound(f"commit {sha} not found in repository {normalize_url(url)}")
            assert repo is not None
            _touch(self.path_for(url, creds))
            return repo

    def _discard(self, url: str, creds: Credentials, reason: str) -> None:
        log.warning("mirror corrupt, cloning again", extra={"repo": normalize_url(url), "error": reason})
        metrics.MIRROR_RECLONES.labels(normalize_url(url)).inc()
        shutil.rmtree(self.path_for(url, creds), ignore_errors=True)

    async def fetch_all(self, url: str, creds: Credentials) -> pygit2.Repository:
        """Fetches every branch and tag (used to resolve abbreviated SHAs)."""
        async with self._lock(url, creds):
            await self._fetch(url, creds, None)
            repo = self.open(url, creds)
            if repo is None:
                raise Unavailable(f"repository {normalize_url(url)}: mirror unreadable after fetch")
            _touch(self.path_for(url, creds))
            return repo

    async def _fetch(self, url: str, creds: Credentials, sha: str | None) -> None:
        path = self.path_for(url, creds)
        if path.exists() and self.open(url, creds) is None:
            self._discard(url, creds, "mirror unreadable")
        elif (path / "HEAD").exists() and (tampered := mirror_tampering(path)) is not None:
            self._discard(url, creds, tampered)  # checked before every fetch: git reads this config
        if not (path / "HEAD").exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pygit2.init_repository(str(path), bare=True)
        refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        try:
            await self._git(
                url,
                creds,
                "fetch",
                ["fetch", "--quiet", "--prune", "--no-tags", "{url}", *refspecs],
                cwd=path,
            )
            if sha is not None and not self._has(self.open(url, creds), sha) and len(sha) == 40:
                # a commit no branch or tag points at (servers allowing any SHA in want)
                with contextlib.suppress(FerryError):
                    await self._git(url, creds, "fetch", ["fetch", "--quiet", "{url}", sha], cwd=path)
        except Unavailable as err:
            if _looks_corrupt(err.message):
                raise _CorruptMirror(err.message) from None
            raise


class _CorruptMirror(Exception):
    pass


def _looks_corrupt(message: str) -> bool:
    lower = message.lower()
    return any(
        s in lower
        for s in (
            "corrupt",
            "bad object",
            "not a git repository",
            "index-pack failed",
            "unable to read",
            "packfile",
            "did not send all necessary objects",
            "bad ref",
            "broken",
        )
    )

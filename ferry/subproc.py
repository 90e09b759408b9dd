"""The one way ferry runs child processes (helm, kustomize, git): sandboxed, with a timeout and
resource limits, killed on timeout, credentials redacted from what is reported, and a typed error
carrying stderr.

Every tool runs in a sandbox, always (there is no opt-out): repository content is hostile input,
and a tool that reads configuration from ``$HOME`` or git's config files would otherwise read the
attacker's (security review findings 1 and 3). What a tool sees:

- an empty private ``HOME``, ``XDG_CONFIG_HOME``, ``XDG_CACHE_HOME``, ``XDG_DATA_HOME`` and
  ``TMPDIR`` in a fresh directory outside any materialized tree, removed afterwards;
- ``GIT_CONFIG_NOSYSTEM=1``, ``GIT_CONFIG_GLOBAL=/dev/null`` and ``GIT_ALLOW_PROTOCOL`` limited to
  the transports ferry allows (it overrides every ``protocol.*.allow`` setting, so no config file
  can re-enable ``ext::``);
- no inherited environment except ``PATH`` and the deployment's proxy and CA-bundle variables,
  plus what the caller passes explicitly (the sandbox's own variables always win);
- rlimits (CPU time, data segment i.e. memory, file size, no core dumps) set by ``prlimit``
  before it execs the tool;
- stdout and stderr read incrementally with a size limit: past it the process group is killed.

The process-wide limits are set once at startup (``configure``); tests and tools running outside
the repo server get the defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ferry.errors import DeadlineExceeded, FailedPrecondition, ResourceExhausted
from ferry.redact import redact

# Bytes of stderr an error keeps (tools can be very chatty on failure).
_MAX_STDERR = 8192
_READ_CHUNK = 64 * 1024
# How tools report the rlimits being reached (Go runtime, git/C, Python, shells).
_OUT_OF_MEMORY = ("out of memory", "cannot allocate memory", "memoryerror")
_FILE_TOO_LARGE = ("file too large", "file size limit exceeded")

# Transports a tool's git may use. ``file`` (and local paths) only where a caller adds it.
GIT_PROTOCOLS: tuple[str, ...] = ("https", "http", "ssh", "git")

# Inherited from the repo server's environment: where tools are, and how the deployment reaches
# the network (proxies, CA bundles). Nothing else leaks into a tool.
_INHERITED = (
    "PATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@dataclass(frozen=True)
class Limits:
    """Per-process limits of a tool run. Flags of the repo server set them (``configure``)."""

    cpu_seconds: int = 120  # RLIMIT_CPU (--tool-cpu-limit)
    memory_bytes: int = 2 * 1024**3  # RLIMIT_DATA (--tool-memory-limit)
    file_bytes: int = 4 * 1024**3  # RLIMIT_FSIZE: the largest file a tool may write (--tool-max-file-size)
    output_bytes: int = 64 * 1024**2  # stdout + stderr (--tool-max-output)


_defaults = Limits()
_sandbox_root: Path | None = None


def configure(*, limits: Limits | None = None, sandbox_root: Path | None = None) -> None:
    """Process-wide defaults (the repo server's flags). ``sandbox_root``: where sandboxes are
    created (the system temp dir when None)."""
    global _defaults, _sandbox_root  # noqa: PLW0603 (set once at startup)
    if limits is not None:
        _defaults = limits
    _sandbox_root = sandbox_root


def default_limits() -> Limits:
    return _defaults


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


class ToolError(Exception):
    """A tool exited non-zero; ``stderr`` is redacted and truncated."""

    def __init__(self, tool: str, returncode: int, stderr: str) -> None:
        super().__init__(f"{tool} failed (exit {returncode}): {stderr.strip()}")
        self.tool = tool
        self.returncode = returncode
        self.stderr = stderr


class ToolMissing(FailedPrecondition):
    """The tool is not installed where configured; a status clients see as FAILED_PRECONDITION."""

    def __init__(self, tool: str) -> None:
        super().__init__(f"{os.path.basename(tool)} is not installed (not found at {tool!r})")
        self.tool = tool


class ToolTimeout(DeadlineExceeded):
    def __init__(self, tool: str, timeout: float) -> None:
        super().__init__(f"{tool} did not finish within {timeout:g}s and was killed")
        self.tool = tool
        self.timeout = timeout


class ToolLimitExceeded(ResourceExhausted):
    """A tool reached one of its sandbox limits and was stopped; the message names the limit."""

    def __init__(self, tool: str, limit: str, value: str, what: str) -> None:
        super().__init__(f"{tool} {what} (limit {limit}={value}) and was stopped")
        self.tool = tool
        self.limit = limit
        self.value = value


@dataclass(frozen=True)
class Sandbox:
    """A private, empty home for tools; one may serve several runs (``helm repo add`` then
    ``helm dependency build`` share the Helm configuration written into it)."""

    root: Path
    allow_protocols: tuple[str, ...] = GIT_PROTOCOLS

    @property
    def home(self) -> Path:
        return self.root

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The whole environment of a tool: inherited basics, then ``extra``, then the sandbox's
        own variables (which ``extra`` cannot override)."""
        env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
        env.setdefault("PATH", "/usr/bin:/bin")
        env.update(extra or {})
        env.update(
            {
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.root / "config"),
                "XDG_CACHE_HOME": str(self.root / "cache"),
                "XDG_DATA_HOME": str(self.root / "data"),
                "TMPDIR": str(self.root / "tmp"),
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": "/dev/null",
                "GIT_ALLOW_PROTOCOL": ":".join(self.allow_protocols),
                "GIT_TERMINAL_PROMPT": "0",
            }
        )
        return env


@contextlib.asynccontextmanager
async def sandbox(*, allow_protocols: Iterable[str] = GIT_PROTOCOLS) -> AsyncIterator[Sandbox]:
    """A fresh sandbox directory (mode 0700), removed with everything tools wrote into it."""
    root_dir = _sandbox_root
    if root_dir is not None:
        root_dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="ferry-sandbox-", dir=root_dir))
    try:
        (root / "tmp").mkdir()  # the XDG dirs are made by the tools that need them
        yield Sandbox(root, tuple(allow_protocols))
    finally:
        shutil.rmtree(root, ignore_errors=True)


_PRLIMIT = shutil.which("prlimit", path=os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/bin:/bin")


def _with_rlimits(argv: list[str], limits: Limits) -> list[str]:
    """``argv`` started through util-linux ``prlimit``, which sets the limits on itself and then
    execs the tool: they hold from the tool's first instruction. (Not ``preexec_fn``: running
    Python between fork and exec in the multi-threaded repo server crashes the child.)"""
    cpu = max(1, limits.cpu_seconds)
    return [
        _PRLIMIT or "prlimit",
        # SIGXCPU at the soft limit (Go tools ignore it), SIGKILL one second later
        f"--cpu={cpu}:{cpu + 1}",
        f"--data={limits.memory_bytes}",
        f"--fsize={limits.file_bytes}",
        "--core=0",
        "--",
        *argv,
    ]


def _require(tool: str, env: Mapping[str, str]) -> None:
    found = shutil.which(tool, path=env.get("PATH")) if "/" not in tool else tool
    if found is None or not os.access(found, os.X_OK):
        raise ToolMissing(tool)
    if _PRLIMIT is None:
        raise FailedPrecondition("prlimit (util-linux) is not installed: tools cannot be given their limits")


async def _spawn(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path | str | None,
    stdin: bytes | None,
    limits: Limits,
) -> asyncio.subprocess.Process:
    _require(argv[0], env)
    return await asyncio.create_subprocess_exec(
        *_with_rlimits(argv, limits),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,  # the timeout kills the whole group, grandchildren included
    )


@dataclass(frozen=True)
class Completed:
    stdout: bytes
    stderr: str


class _OutputBudget:
    """Bytes a run may still write on stdout and stderr together."""

    def __init__(self, limit: int, on_exceeded: Callable[[], None]) -> None:
        self.left = limit
        self.exceeded = False
        self._on_exceeded = on_exceeded

    def take(self, n: int) -> bool:
        self.left -= n
        if self.left < 0 and not self.exceeded:
            self.exceeded = True
            self._on_exceeded()
        return not self.exceeded


async def _read_all(stream: asyncio.StreamReader, budget: _OutputBudget) -> bytes:
    chunks: list[bytes] = []
    while chunk := await stream.read(_READ_CHUNK):
        if budget.take(len(chunk)):
            chunks.append(chunk)
    return b"".join(chunks)


async def _read_ends(stream: asyncio.StreamReader, budget: _OutputBudget, keep: int) -> tuple[bytes, bytes]:
    """The first and the last ``keep`` bytes of a stream (a crash report starts with its cause
    and can be longer than what an error keeps)."""
    head = bytearray()
    tail = bytearray()
    while chunk := await stream.read(_READ_CHUNK):
        if budget.take(len(chunk)):
            if len(head) < keep:
                head += chunk[: keep - len(head)]
            tail += chunk
            del tail[:-keep]
    return bytes(head), bytes(tail)


async def _feed(proc: asyncio.subprocess.Process, data: bytes | None) -> None:
    if data is None or proc.stdin is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(data)
        await proc.stdin.drain()
    proc.stdin.close()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def run(
    argv: list[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    stdin: bytes | None = None,
    secrets: Iterable[str] = (),
    check: bool = True,
    box: Sandbox | None = None,
    allow_protocols: Iterable[str] | None = None,
    limits: Limits | None = None,
) -> Completed:
    """Runs ``argv`` (no shell) in a sandbox: ``box`` when given, else a fresh one (with
    ``allow_protocols`` for git, ferry's default transports when None). ``env`` holds the
    variables the caller passes on purpose. Raises ToolError on a non-zero exit (when ``check``),
    ToolTimeout when ``timeout`` passes, ToolLimitExceeded when a limit is reached (the whole
    process group is killed in both cases)."""
    if box is None:
        protocols = GIT_PROTOCOLS if allow_protocols is None else tuple(allow_protocols)
        async with sandbox(allow_protocols=protocols) as fresh:
            return await _run(argv, fresh, timeout, env, cwd, stdin, secrets, check, limits or _defaults)
    return await _run(argv, box, timeout, env, cwd, stdin, secrets, check, limits or _defaults)


async def _run(
    argv: list[str],
    box: Sandbox,
    timeout: float,
    env: Mapping[str, str] | None,
    cwd: Path | str | None,
    stdin: bytes | None,
    secrets: Iterable[str],
    check: bool,
    limits: Limits,
) -> Completed:
    tool = os.path.basename(argv[0])
    try:
        proc = await _spawn(argv, env=box.env(env), cwd=cwd, stdin=stdin, limits=limits)
    except FileNotFoundError:
        raise ToolMissing(argv[0]) from None
    assert proc.stdout is not None
    assert proc.stderr is not None
    budget = _OutputBudget(limits.output_bytes, lambda: _kill_group(proc.pid))
    try:
        stdout, (stderr_head, stderr_bytes), _, _ = await asyncio.wait_for(
            asyncio.gather(
                _read_all(proc.stdout, budget),
                _read_ends(proc.stderr, budget, 8 * _MAX_STDERR),
                _feed(proc, stdin),
                proc.wait(),
            ),
            timeout,
        )
    except (TimeoutError, asyncio.CancelledError):
        _kill_group(proc.pid)
        await proc.wait()
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        raise ToolTimeout(tool, timeout) from None
    if budget.exceeded:
        raise ToolLimitExceeded(
            tool, "--tool-max-output", _size(limits.output_bytes), "wrote more output than allowed"
        )
    stderr = redact(stderr_bytes.decode(errors="replace")[-_MAX_STDERR:], secrets)
    returncode = proc.returncode or 0
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        # nobody else kills a tool's group: the kernel did, at the CPU-time limit
        raise ToolLimitExceeded(tool, "--tool-cpu-limit", f"{limits.cpu_seconds}s", "used up its CPU time")
    lower = (stderr_head.decode(errors="replace") + stderr).lower() if returncode != 0 else ""
    if returncode == -signal.SIGXFSZ or any(s in lower for s in _FILE_TOO_LARGE):
        raise ToolLimitExceeded(
            tool, "--tool-max-file-size", _size(limits.file_bytes), "tried to write a file too large"
        )
    if returncode == -signal.SIGSEGV or any(s in lower for s in _OUT_OF_MEMORY):
        # Go's runtime faults when the data limit stops it early; helm and kustomize do not crash otherwise
        raise ToolLimitExceeded(tool, "--tool-memory-limit", _size(limits.memory_bytes), "ran out of memory")
    if check and returncode != 0:
        raise ToolError(tool, returncode, stderr)
    return Completed(stdout, stderr)

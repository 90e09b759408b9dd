"""The one way ferry runs child processes (helm, kustomize, git): with a timeout, killed on
timeout, credentials redacted from what is reported, and a typed error carrying stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ferry.errors import DeadlineExceeded, FailedPrecondition
from ferry.redact import redact

# Bytes of stderr an error keeps (tools can be very chatty on failure).
_MAX_STDERR = 8192


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


async def _spawn(
    argv: list[str], *, env: Mapping[str, str] | None, cwd: Path | str | None, stdin: bytes | None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,  # the timeout kills the whole group, grandchildren included
    )


@dataclass(frozen=True)
class Completed:
    stdout: bytes
    stderr: str


async def run(
    argv: list[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    stdin: bytes | None = None,
    secrets: Iterable[str] = (),
    check: bool = True,
) -> Completed:
    """Runs ``argv`` (no shell). Raises ToolError on a non-zero exit (when ``check``) and
    ToolTimeout when ``timeout`` passes (the whole process group is killed)."""
    try:
        proc = await _spawn(argv, env=env, cwd=cwd, stdin=stdin)
    except FileNotFoundError:
        raise ToolMissing(argv[0]) from None
    try:
        stdout, stderr_bytes = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except (TimeoutError, asyncio.CancelledError):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        raise ToolTimeout(os.path.basename(argv[0]), timeout) from None
    stderr = redact(stderr_bytes.decode(errors="replace")[-_MAX_STDERR:], secrets)
    if check and proc.returncode != 0:
        raise ToolError(os.path.basename(argv[0]), proc.returncode or 0, stderr)
    return Completed(stdout, stderr)

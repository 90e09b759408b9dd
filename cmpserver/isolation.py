"""What a plugin's command can see of the filesystem: its app directory, its sandbox HOME, and
read-only system directories — nothing else of the host (not the plugin server's other work dirs,
not a repo server's cache on the same machine, not the host's ``/proc``).

With ``namespace`` isolation each command starts through util-linux ``unshare`` in new user, mount
and PID namespaces (no privilege needed where unprivileged user namespaces are allowed). A small
helper (below, run by the plugin server's own Python, never anything from the repository) mounts a
fresh tmpfs as the new root, bind-mounts the system directories read-only (every mount below them
too; a failure to make one read-only aborts the command), the app dir and HOME read-write, a few
device nodes and the new PID namespace's ``/proc``, then ``pivot_root``s into it and detaches the
old root before it execs the command. ``none`` runs commands on the host's filesystem, as Argo CD
does, leaving the isolation to the sidecar container; ``auto`` (the default) is ``namespace`` where
the kernel allows it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)

# Read-only in every isolated command: where shells, interpreters and tools live, and /etc
# (name resolution, CA certificates, users). Missing ones are skipped; symlinks (merged /usr)
# are recreated as symlinks.
SYSTEM_DIRS: tuple[str, ...] = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")

# What the helper prints (exit 127) when the command cannot be started in the isolated root.
MISSING_MARK = "ferry-plugin-isolation: cannot start "

# Runs as PID 1 of the new namespaces, in the plugin server's own Python (-S: no site imports):
# every mount is a system call, not a process (a shell and mount(8) per step cost ~90 ms).
_HELPER = r"""
import ctypes, os, platform, sys, warnings  # all imported before the old root goes
libc = ctypes.CDLL(None, use_errno=True)
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC = 1, 2, 4, 8, 32, 4096, 16384
KEPT = NOSUID | NODEV | NOEXEC | 1024 | 2048 | 4096  # + noatime, nodiratime, relatime (locked)
def check(result, what):
    if result != 0:
        errno = ctypes.get_errno()
        sys.exit(f"plugin isolation: {what}: {os.strerror(errno)}")
def mount(source, target, fstype, flags, data=None):
    enc = lambda v: v.encode() if v is not None else None
    check(libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")
def read_only(target):
    mounts = [line.split()[4] for line in open("/proc/self/mountinfo")]
    for point in sorted(m for m in mounts if m == target or m.startswith(target + "/")):
        flags = os.statvfs(point).f_flag & KEPT
        mount(None, point, None, REMOUNT | BIND | RDONLY | flags)
root, app, home, binds = sys.argv[1:5]
command = sys.argv[5:]
MISSING = "@MISSING@"
mount("ferry-plugin", root, "tmpfs", NOSUID | NODEV, "mode=0755,size=64m")
for name in ("dev", "tmp", "proc", ".old"):
    os.mkdir(f"{root}/{name}")
os.chmod(f"{root}/tmp", 0o1777)
mount("proc", f"{root}/proc", "proc", NOSUID | NODEV | NOEXEC)
for dev in ("null", "zero", "full", "random", "urandom"):
    open(f"{root}/dev/{dev}", "w").close()
    mount(f"/dev/{dev}", f"{root}/dev/{dev}", None, BIND)
for path in binds.split(":"):
    if os.path.islink(path):
        os.makedirs(root + os.path.dirname(path), exist_ok=True)
        os.symlink(os.readlink(path), root + path)
    elif os.path.isdir(path):
        os.makedirs(root + path, exist_ok=True)
        mount(path, root + path, None, BIND | REC)
        read_only(root + path)
for path in (app, home):
    os.makedirs(root + path, exist_ok=True)
    mount(path, root + path, None, BIND)
os.chdir(root)
check(libc.syscall({"x86_64": 155, "aarch64": 41}[platform.machine()], b".", b".old"), "pivot_root")
check(libc.umount2(b"/.old", 2), "detach the old root")
os.rmdir("/.old")
os.chdir(app)
try:
    os.execvp(command[0], command)
except OSError as err:
    print(f"{MISSING}{command[0]}: {err.strerror}", file=sys.stderr, flush=True)
    os._exit(127)
"""
_HELPER = _HELPER.replace("@MISSING@", MISSING_MARK)


class IsolationMode(StrEnum):
    AUTO = "auto"
    NAMESPACE = "namespace"
    NONE = "none"


class IsolationUnavailable(Exception):
    pass


@dataclass(frozen=True)
class Isolation:
    """How commands are wrapped; ``enabled`` False runs them as they are."""

    enabled: bool
    roots: Path  # mount points of the new roots (empty directories on the host)
    binds: tuple[str, ...] = SYSTEM_DIRS
    unshare: str = "unshare"
    python: str = sys.executable

    def argv(self, command: Sequence[str], *, app: Path, home: Path, root: Path) -> list[str]:
        if not self.enabled:
            return list(command)
        return [
            self.unshare,
            "--user",
            "--map-root-user",
            "--mount",
            "--pid",
            "--fork",
            "--",
            self.python,
            "-S",
            "-c",
            _HELPER,
            str(root),
            str(app),
            str(home),
            ":".join(self.binds),
            *command,
        ]

    def new_root(self) -> Path:
        self.roots.mkdir(mode=0o700, parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="root-", dir=self.roots))


def setup(mode: IsolationMode, work_dir: Path, extra_binds: Sequence[str] = ()) -> Isolation:
    """The isolation the server will use; for ``namespace`` (and ``auto``) it is tried once now,
    so a kernel or container that forbids it is found at startup, not on the first render."""
    binds = (*SYSTEM_DIRS, *(str(Path(b).absolute()) for b in extra_binds))
    roots = work_dir / "roots"
    if mode is IsolationMode.NONE:
        return Isolation(False, roots, binds)
    unshare = shutil.which("unshare")
    isolation = Isolation(True, roots, binds, unshare or "unshare")
    problem = "util-linux unshare is not installed" if unshare is None else _probe(isolation, work_dir)
    if problem is None:
        return isolation
    if mode is IsolationMode.NAMESPACE:
        raise IsolationUnavailable(f"--isolation namespace is not possible here: {problem}")
    log.warning("plugin commands run without namespace isolation", extra={"reason": problem})
    return Isolation(False, roots, binds)


def _probe(isolation: Isolation, work_dir: Path) -> str | None:
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=work_dir))
    try:
        (probe / "app").mkdir()
        (probe / "home").mkdir()
        root = isolation.new_root()
        argv = isolation.argv(["/bin/sh", "-c", "true"], app=probe / "app", home=probe / "home", root=root)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        root.rmdir()
        if done.returncode != 0:
            return done.stderr.strip() or f"exit {done.returncode}"
        return None
    finally:
        shutil.rmtree(probe, ignore_errors=True)

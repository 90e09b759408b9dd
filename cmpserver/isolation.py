"""What a plugin's command can see of the filesystem: its app directory, its sandbox HOME, and
read-only system directories — nothing else of the host (not the plugin server's other work dirs,
not a repo server's cache on the same machine, not the host's ``/proc``).

With ``namespace`` isolation each command starts through util-linux ``unshare`` in new user,
mount and PID namespaces (no privilege needed where unprivileged user namespaces are allowed).
A trusted shell script (below; the host's ``/bin/sh``, never the repository's) mounts a fresh
tmpfs as the new root, bind-mounts the system directories read-only (a failure to make one
read-only aborts the command), the app dir and HOME read-write, a few device nodes and the new PID
namespace's ``/proc``, then ``pivot_root``s into it and detaches the old root before it execs the
command. ``none`` runs commands on the host's filesystem, as Argo CD does, leaving the isolation to
the sidecar container; ``auto`` (the default) is ``namespace`` where the kernel allows it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
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

_SCRIPT = r"""
set -eu
root=$1 app=$2 home=$3 binds=$4
shift 4
mount -t tmpfs -o mode=0755,size=64m ferry-plugin "$root"
mkdir "$root/dev" "$root/tmp" "$root/proc" "$root/.old"
chmod 1777 "$root/tmp"
mount --rbind /proc "$root/proc"
for dev in null zero full random urandom; do
  touch "$root/dev/$dev"
  mount --bind "/dev/$dev" "$root/dev/$dev"
done
IFS=:
for dir in $binds; do
  if [ -L "$dir" ]; then
    mkdir -p "$root$(dirname "$dir")"
    ln -s "$(readlink "$dir")" "$root$dir"
  elif [ -d "$dir" ]; then
    mkdir -p "$root$dir"
    mount --rbind "$dir" "$root$dir"
    mount -o remount,bind,ro "$root$dir"
  fi
done
unset IFS
mkdir -p "$root$app" "$root$home"
mount --bind "$app" "$root$app"
mount --bind "$home" "$root$home"
cd "$root"
pivot_root . .old
umount -l /.old
rmdir /.old
cd "$app"
exec "$@"
"""


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
            "--mount-proc",
            "--",
            "/bin/sh",
            "-c",
            _SCRIPT,
            "ferry-plugin-isolation",
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

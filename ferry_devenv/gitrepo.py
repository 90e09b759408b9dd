"""Git repositories built by tests: a bare repository under a server's root, committed to through
a private working clone with the real git CLI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

_ENV = {
    "GIT_AUTHOR_NAME": "Ferry Test",
    "GIT_AUTHOR_EMAIL": "test@ferrycd.io",
    "GIT_COMMITTER_NAME": "Ferry Test",
    "GIT_COMMITTER_EMAIL": "test@ferrycd.io",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, **_ENV, "HOME": os.environ.get("HOME", tempfile.gettempdir())}
    result = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout.strip()


class GitRepo:
    """A bare repository ``<root>/<name>.git`` and a working clone that commits and pushes to it."""

    def __init__(self, root: Path, name: str, *, branch: str = "main") -> None:
        self.name = name
        self.branch = branch
        self.bare = root / f"{name}.git"
        git("init", "--quiet", "--bare", f"--initial-branch={branch}", str(self.bare))
        git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=self.bare)
        self.work = Path(tempfile.mkdtemp(prefix=f"ferry-devenv-{os.getpid()}-work-{name}-"))
        git("init", "--quiet", f"--initial-branch={branch}", str(self.work))
        git("remote", "add", "origin", str(self.bare), cwd=self.work)

    def write(self, files: Mapping[str, str | bytes | None]) -> None:
        """Writes files relative to the repository root; ``None`` deletes a file."""
        for rel, content in files.items():
            path = self.work / rel
            if content is None:
                path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)

    def copy_tree(self, source: Path, dest: str = "") -> None:
        """Copies a directory (e.g. a corpus chart) into the working clone at ``dest``."""
        shutil.copytree(source, self.work / dest, dirs_exist_ok=True)

    def commit(self, message: str, files: Mapping[str, str | bytes | None] | None = None) -> str:
        """Writes ``files``, commits everything and pushes; returns the new commit SHA."""
        if files:
            self.write(files)
        git("add", "-A", cwd=self.work)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.work)
        git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}", cwd=self.work)
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.work)

    def tag(self, name: str, *, message: str | None = None) -> None:
        args = ["tag", "-a", name, "-m", message] if message else ["tag", name]
        git(*args, cwd=self.work)
        git("push", "--quiet", "origin", f"refs/tags/{name}", cwd=self.work)

    def push_branch(self, name: str) -> None:
        git("push", "--quiet", "origin", f"HEAD:refs/heads/{name}", cwd=self.work)

    def cleanup(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.bare, ignore_errors=True)

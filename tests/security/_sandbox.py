"""Shared pieces of the sandbox and symlink tests: a repo server of their own whose temp and cache
directories are known (so a test can tell whether anything was written outside a render's work
dir, and where a mirror lives), and a way to tell what a render returned, error or manifests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import new_workdir
from reposerver.git import Mirrors
from tests.conftest import RunningServer, start_reposerver
from tests.integration.reposerver.conftest import RepoClient

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
SECRET = "FERRY-PROBE-SECRET-4f1c"
# The attack repos are file:// URLs: the sandbox must hold on a development repo server that
# allows them (the URL rule itself is tests/security/test_urls.py's).
# Remote bases are fetched (for the projects that permit them) so the sandbox around kustomize's
# own git is what these tests meet.
SANDBOX_FLAGS = (
    "--revision-cache-expiration",
    "0",
    "--allow-local-repos",
    "--kustomize-remote-bases",
    "project",
)


@dataclass
class Isolated:
    """A repo server whose TMPDIR is ``base/tmp`` (render work dirs, sandboxes) and whose cache is
    ``base/cache``; ``base/probe`` holds a host file no render may read or write."""

    client: RepoClient
    server: RunningServer
    base: Path

    @property
    def tmp(self) -> Path:
        return self.base / "tmp"

    @property
    def cache(self) -> Path:
        return self.base / "cache"

    @property
    def probe(self) -> Path:
        return self.base / "probe"

    def mirror(self, url: str) -> Path:
        """The repo server's mirror of ``url`` fetched without credentials (its own naming)."""
        return Mirrors(self.cache / "git").path_for(url)

    def outside_files(self) -> dict[str, bytes]:
        """Every file under ``base`` but the server's own temp and cache dirs (and its log)."""
        found: dict[str, bytes] = {}
        for path in self.base.rglob("*"):
            rel = path.relative_to(self.base)
            if rel.parts[0] in ("tmp", "cache", "log") or not path.is_file() or path.is_symlink():
                continue
            found[str(rel)] = path.read_bytes()
        return found

    def leftovers(self) -> list[str]:
        """Entries left in the temp dir once renders are done (work dirs and sandboxes are removed)."""
        return sorted(p.name for p in self.tmp.iterdir())


@pytest.fixture(scope="module")
def isolated() -> Iterator[Isolated]:
    base = new_workdir("security-sandbox")
    for name in ("tmp", "cache", "probe", "log"):
        (base / name).mkdir()
    (base / "probe" / "secret.txt").write_text(SECRET + "\n")
    (base / "probe" / "values.yaml").write_text(f"stolen: {SECRET}\n")
    (base / "probe" / "cm.yaml").write_text(CM.format(name="stolen") + f"data:\n  k: {SECRET}\n")
    server = start_reposerver(base / "cache", *SANDBOX_FLAGS, env={"TMPDIR": str(base / "tmp")})
    client = RepoClient(server)
    yield Isolated(client, server, base)
    client.close()
    server.stop()
    shutil.rmtree(base, ignore_errors=True)


def url_of(repo: GitRepo) -> str:
    return f"file://{repo.bare}"


def link(repo: GitRepo, path: str, target: str) -> None:
    """A symlink ``path`` -> ``target`` in the working clone (committed with the next commit)."""
    where = repo.work / path
    where.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, where)


@dataclass
class Outcome:
    """What one GenerateManifests call gave: a status code (None when it succeeded) and all the
    text a client saw (the error message, or every manifest)."""

    code: grpc.StatusCode | None
    text: str

    @property
    def failed(self) -> bool:
        return self.code is not None


def outcome(call: Callable[[], Any]) -> Outcome:
    try:
        response = call()
    except grpc.RpcError as err:
        return Outcome(err.code(), err.details() or "")
    return Outcome(None, "\n".join(response.manifests))


def ups_to_root(isolated: Isolated) -> int:
    """How many ``..`` climb from a render's work dir (``tmp/ferry-<tool>-xxxx``) to ``/``."""
    return len((isolated.tmp / "work").parts) - 1

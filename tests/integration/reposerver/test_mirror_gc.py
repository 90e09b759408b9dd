"""Idle mirrors are collected (``--mirror-max-idle``): every use of a mirror touches its
``ferry-last-used`` marker, and ``Mirrors.collect`` moves aside only mirrors unused for longer
than the limit and not being fetched, so one mirror per repository and credential identity does
not pile up for ever. Real mirrors fetched by ferry's git from a real repository."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

from ferry_devenv.gitrepo import GitRepo
from reposerver.git import LAST_USED, Credentials, Mirrors

DAY = 24 * 3600.0
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def age(path: Path, seconds: float) -> None:
    """Makes the mirror look last used ``seconds`` ago."""
    stamp = time.time() - seconds
    os.utime(path / LAST_USED, (stamp, stamp))


def test_a_used_mirror_stays_and_an_idle_one_goes(tmp_path: Path, git_repo: Callable[[str], GitRepo]) -> None:
    mirrors = Mirrors(tmp_path / "git")
    used, idle = git_repo("gc-used"), git_repo("gc-idle")
    shas = {r: r.commit("init", {"app/cm.yaml": CM.format(name=r.name)}) for r in (used, idle)}

    async def fetch_both() -> None:
        for repo, sha in shas.items():
            await mirrors.ensure_commit(f"file://{repo.bare}", Credentials(), sha)

    asyncio.run(fetch_both())
    used_path, idle_path = (mirrors.path_for(f"file://{r.bare}") for r in (used, idle))
    assert (used_path / LAST_USED).exists()  # the fetch touched it
    age(used_path, 8 * DAY)
    age(idle_path, 8 * DAY)
    # a render of the used one touches it again (the marker is rewritten at most hourly)
    asyncio.run(mirrors.ensure_commit(f"file://{used.bare}", Credentials(), shas[used]))
    moved = mirrors.collect(7 * DAY)
    assert used_path.is_dir()
    assert not idle_path.exists()
    assert len(moved) == 1
    Mirrors.remove(moved)
    assert not moved[0].exists()
    # the collected repository is simply cloned again when next asked for
    repo = asyncio.run(mirrors.ensure_commit(f"file://{idle.bare}", Credentials(), shas[idle]))
    assert str(repo.revparse_single(shas[idle]).id) == shas[idle]


def test_a_mirror_being_fetched_is_never_collected(
    tmp_path: Path, git_repo: Callable[[str], GitRepo]
) -> None:
    mirrors = Mirrors(tmp_path / "git")
    repo = git_repo("gc-busy")
    sha = repo.commit("init", {"app/cm.yaml": CM.format(name="busy")})
    url = f"file://{repo.bare}"

    async def scenario() -> list[Path]:
        await mirrors.ensure_commit(url, Credentials(), sha)
        age(mirrors.path_for(url), 30 * DAY)
        async with mirrors._lock(url, Credentials()):  # a fetch holds it
            return mirrors.collect(7 * DAY)

    assert asyncio.run(scenario()) == []
    assert mirrors.path_for(url).is_dir()
    assert mirrors.collect(7 * DAY) != []  # once the fetch is over


def test_leftovers_of_an_interrupted_removal_are_removed(tmp_path: Path) -> None:
    mirrors = Mirrors(tmp_path / "git")
    leftover = tmp_path / "git" / ".collected-abc-1"
    (leftover / "objects").mkdir(parents=True)
    moved = mirrors.collect(7 * DAY)
    assert moved == [leftover]
    Mirrors.remove(moved)
    assert not leftover.exists()

"""Symlink resolution against a commit's tree, segment by segment (reposerver.tree.resolve), and
the materialization rules that are pure: minimal roots and which hidden names are written."""

from __future__ import annotations

import pytest

from ferry.errors import InvalidArgument
from reposerver.tree import Kind, hidden_skipped, minimal_roots, resolve

# a repository as paths: directories end with "/", links map to their target text
FILES = {
    "c/": None,
    "c/Chart.yaml": None,
    "c/files/": None,
    "c/files/u": "../..",  # the repository root
    "c/files/l": "u/../../etc/passwd",  # lexically etc/passwd, physically above the root
    "c/files/in": "u/c/Chart.yaml",  # a chain that stays inside
    "c/files/abs": "/etc/passwd",
    "c/files/dangling": "nothing-here",
    "c/files/loop": "loop",
    "c/files/dir": "../../shared",
    "shared/": None,
    "shared/x.yaml": None,
    "shared/up": "..",  # the root, from inside shared/
}


def lookup(segments: tuple[str, ...], name: str) -> tuple[Kind, str | None] | None:
    path = "/".join([*segments, name])
    if path + "/" in FILES:
        return Kind.TREE, None
    if path not in FILES:
        return None
    target = FILES[path]
    return (Kind.LINK, target) if target is not None else (Kind.BLOB, None)


def test_plain_paths_resolve_to_themselves() -> None:
    assert resolve("c/Chart.yaml", lookup) == ("c/Chart.yaml", Kind.BLOB)
    assert resolve("c/files", lookup) == ("c/files", Kind.TREE)
    assert resolve("", lookup) == ("", Kind.TREE)


def test_links_inside_the_repository_resolve_to_their_target() -> None:
    assert resolve("c/files/u", lookup) == ("", Kind.TREE)
    assert resolve("c/files/in", lookup) == ("c/Chart.yaml", Kind.BLOB)
    assert resolve("c/files/dir/x.yaml", lookup) == ("shared/x.yaml", Kind.BLOB)


def test_dot_dot_after_a_link_climbs_from_its_target_not_from_the_link() -> None:
    # c/files/dir is shared/, so dir/.. is the root (lexically it would be c/files)
    assert resolve("c/files/dir/up/c/Chart.yaml", lookup) == ("c/Chart.yaml", Kind.BLOB)


def test_a_chain_through_another_link_that_leaves_the_root_is_refused_naming_the_link() -> None:
    with pytest.raises(InvalidArgument) as info:
        resolve("c/files/l", lookup)
    assert "repository contains out-of-bounds symlinks. file: c/files/l " in info.value.message
    assert "'u/../../etc/passwd'" in info.value.message


def test_an_absolute_link_is_refused() -> None:
    with pytest.raises(InvalidArgument) as info:
        resolve("c/files/abs", lookup)
    assert "out-of-bounds symlinks. file: c/files/abs " in info.value.message


def test_a_link_is_not_followed_as_the_last_segment_when_asked_not_to() -> None:
    assert resolve("c/files/l", lookup, follow_last=False) == ("c/files/l", Kind.LINK)
    with pytest.raises(InvalidArgument):
        resolve("c/files/l/x", lookup, follow_last=False)


def test_dangling_links_and_missing_paths_are_absent() -> None:
    assert resolve("c/files/dangling", lookup) is None
    assert resolve("c/nope/x", lookup) is None
    assert resolve("c/Chart.yaml/x", lookup) is None


def test_loops_are_refused() -> None:
    with pytest.raises(InvalidArgument, match="symlink loop at 'c/files/loop'"):
        resolve("c/files/loop", lookup)


def test_a_path_that_leaves_the_root_by_itself() -> None:
    with pytest.raises(InvalidArgument, match="leaves the repository root"):
        resolve("../x", lookup)


def test_minimal_roots_drop_paths_inside_others() -> None:
    assert minimal_roots(["c/x/l/config", "c", "d/e", "d"]) == ["c", "d"]
    assert minimal_roots(["c/values.yaml", "", "c"]) == [""]
    assert minimal_roots(["cc", "c", "c/d"]) == ["c", "cc"]


@pytest.mark.parametrize(
    ("name", "path", "wanted", "skipped"),
    [
        (".gitconfig", "c/.gitconfig", set(), True),
        (".git", ".git", {".git"}, True),  # git's own files: never, even when named
        (".GitModules", "c/.GitModules", set(), True),
        (".helmignore", "c/.helmignore", set(), False),
        (".env", "k/.env", {"k/.env"}, False),  # named by a kustomization
        (".env", "k/.env", set(), True),
        (".config", ".config", {".config", ".config/app.env"}, False),  # leads to a named file
        ("values.yaml", "c/values.yaml", set(), False),
    ],
)
def test_hidden_names(name: str, path: str, wanted: set[str], skipped: bool) -> None:
    assert hidden_skipped(name, path, wanted) is skipped

"""Symlinks and hidden files in repository content (security review findings 2 and 3; Argo CD
CVE-2022-24731, CVE-2022-31036, GHSA-6gcg-hp2x-q54h): a chain of links that a lexical check
accepts must not read or write host files, in a Helm chart, a Helm values file, a kustomization
or a plain directory; links that stay inside the repository still render; git's files and
hidden files nobody asked for are not written.

Each escape uses the same chain: ``D/u -> ../..`` (lexically and physically the repository root,
i.e. the render's work dir) and ``D/l -> u/../../<host path>``, which lexically stays inside the
repository but physically climbs out of the work dir from ``u``.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable
from typing import Any

import grpc
import pytest

from ferry.v1 import types_pb2
from ferry_devenv.gitrepo import GitRepo
from tests.security._sandbox import (
    CM,
    SECRET,
    Isolated,
    Outcome,
    isolated,
    link,
    outcome,
    ups_to_root,
    url_of,
)

__all__ = ["isolated"]

CHART = "apiVersion: v2\nname: c\nversion: 0.1.0\n"


@pytest.fixture
def repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    return git_repo("symlinks")


def escape_chain(isolated: Isolated, repo: GitRepo, where: str, host_path: str) -> str:
    """Links ``u`` and ``l`` under a directory below ``where`` such that ``l`` is lexically
    ``<host_path without its leading />`` inside the repository and physically ``host_path``
    (from any render work dir of ``isolated``). Returns the path of ``l``."""
    ups = max(ups_to_root(isolated), 3) + 2
    depth = ups - 1  # segments of the link's directory
    pad = [f"d{i}" for i in range(depth - len(where.split("/")))]
    directory = "/".join([where, *pad])
    link(repo, f"{directory}/u", "/".join([".."] * depth))
    link(repo, f"{directory}/l", "u/" + "/".join([".."] * ups) + host_path)
    return f"{directory}/l"


def manifests(isolated: Isolated, repo: GitRepo, path: str, **kw: Any) -> Outcome:
    source = types_pb2.ApplicationSource(repo_url=url_of(repo), path=path, **kw)
    return outcome(lambda: isolated.client.manifests(url_of(repo), source=source))


def assert_refused(result: Outcome, link_path: str) -> None:
    code, text = result.code, result.text
    assert SECRET not in text
    assert base64.b64encode(SECRET.encode()).decode() not in text
    assert code is grpc.StatusCode.INVALID_ARGUMENT, text
    assert f"repository contains out-of-bounds symlinks. file: {link_path}" in text


def test_helm_files_get_through_a_link_chain_reads_no_host_file(isolated: Isolated, repo: GitRepo) -> None:
    """Finding 2, exact: ``.Files.Get`` through ``files/.../l`` rendered a host file."""
    chain = escape_chain(isolated, repo, "c/files", str(isolated.probe))
    inner = chain.removeprefix("c/")
    repo.commit(
        "files.get",
        {
            "c/Chart.yaml": CHART,
            "c/.helmignore": inner.rsplit("/", 1)[0] + "/u\n",  # keeps helm from looping on u
            "c/templates/cm.yaml": CM.format(name="leak")
            + f'data:\n  k: {{{{ .Files.Get "{inner}/secret.txt" | b64enc | quote }}}}\n',
        },
    )
    assert_refused(manifests(isolated, repo, "c"), chain)
    assert isolated.leftovers() == []


def test_overlapping_roots_write_nothing_through_a_link(isolated: Isolated, repo: GitRepo) -> None:
    """Finding 3, exact: a value file under the escaping link made materialize write through it."""
    before = isolated.outside_files()
    link(repo, "c/x/u", "../..")
    link(repo, "c/x/l", "u/../../probe")  # lexically c/probe, physically <base>/probe
    repo.commit(
        "overlap",
        {
            "c/Chart.yaml": CHART,
            "c/templates/x.yaml": CM.format(name="x"),
            "c/probe/config": "PWNED: true\n",  # the blob at l's lexical target
            "c/.argocd-source.yaml": "helm:\n  valueFiles: [x/l/config]\n",
        },
    )
    result = manifests(isolated, repo, "c")
    assert not (isolated.probe / "config").exists()
    assert isolated.outside_files() == before
    assert_refused(result, "c/x/l")
    assert isolated.leftovers() == []


def test_helm_values_file_through_a_link_chain(isolated: Isolated, repo: GitRepo) -> None:
    """Argo CD GHSA-6gcg-hp2x-q54h class: a values file that is a link out of the repository."""
    before = isolated.outside_files()
    chain = escape_chain(isolated, repo, "c/vals", str(isolated.probe / "values.yaml"))
    repo.commit(
        "values",
        {
            "c/Chart.yaml": CHART,
            "c/templates/cm.yaml": CM.format(name="v") + "data:\n  v: {{ .Values.stolen | quote }}\n",
            str(isolated.probe / "values.yaml").lstrip("/"): "stolen: decoy\n",  # the lexical target
        },
    )
    helm = types_pb2.ApplicationSourceHelm(value_files=[chain.removeprefix("c/")])
    assert_refused(manifests(isolated, repo, "c", helm=helm), chain)
    assert isolated.outside_files() == before


def test_helm_absolute_value_file_link(isolated: Isolated, repo: GitRepo) -> None:
    link(repo, "c/values-prod.yaml", str(isolated.probe / "values.yaml"))
    repo.commit("abs", {"c/Chart.yaml": CHART, "c/templates/cm.yaml": CM.format(name="a")})
    helm = types_pb2.ApplicationSourceHelm(value_files=["values-prod.yaml"])
    assert_refused(manifests(isolated, repo, "c", helm=helm), "c/values-prod.yaml")


def test_kustomize_resource_through_a_link_chain(isolated: Isolated, repo: GitRepo) -> None:
    chain = escape_chain(isolated, repo, "k/res", str(isolated.probe / "cm.yaml"))
    repo.commit(
        "kustomize",
        {
            "k/kustomization.yaml": f"resources:\n- {chain.removeprefix('k/')}\n",
            str(isolated.probe / "cm.yaml").lstrip("/"): CM.format(name="decoy"),
        },
    )
    assert_refused(manifests(isolated, repo, "k"), chain)


def test_plain_directory_file_through_a_link_chain(isolated: Isolated, repo: GitRepo) -> None:
    chain = escape_chain(isolated, repo, "app", str(isolated.probe / "cm.yaml"))
    repo.commit(
        "directory",
        {
            "app/ok.yaml": CM.format(name="ok"),
            str(isolated.probe / "cm.yaml").lstrip("/"): CM.format(name="decoy"),
        },
    )
    source = types_pb2.ApplicationSourceDirectory(recurse=True)
    assert_refused(manifests(isolated, repo, "app", directory=source), chain)


def test_in_repository_links_still_render(isolated: Isolated, repo: GitRepo) -> None:
    """Argo CD allows in-bounds symlinks: files, directories and chains that stay inside render."""
    link(repo, "c/templates", "../shared/templates")  # a directory link
    link(repo, "c/prod.yaml", "../envs/prod.yaml")  # a values file link
    link(repo, "c/files/u", "..")  # the chart itself: a loop helm must not follow
    link(repo, "c/files/l", "u/data.txt")  # a chain that stays inside
    link(repo, "k/base", "../common/base")
    link(repo, "k/extra.yaml", "../common/extra.yaml")
    repo.commit(
        "in bounds",
        {
            "c/Chart.yaml": CHART,
            "c/data.txt": "in-repo-data",
            "shared/templates/cm.yaml": CM.format(name="{{ .Values.name }}")
            + 'data:\n  d: {{ .Files.Get "files/l" | quote }}\n',
            "envs/prod.yaml": "name: from-linked-values\n",
            "k/kustomization.yaml": "resources:\n- base\n- extra.yaml\n",
            "common/base/kustomization.yaml": "resources:\n- cm.yaml\n",
            "common/base/cm.yaml": CM.format(name="linked-base"),
            "common/extra.yaml": CM.format(name="linked-file"),
        },
    )
    helm = types_pb2.ApplicationSourceHelm(value_files=["prod.yaml"])
    rendered = manifests(isolated, repo, "c", helm=helm)
    assert rendered.code is None, rendered.text
    assert "from-linked-values" in rendered.text
    assert "in-repo-data" in rendered.text
    built = manifests(isolated, repo, "k")
    assert built.code is None, built.text
    assert "linked-base" in built.text
    assert "linked-file" in built.text
    # a link's target is an input of the render: changing it renders again
    repo.commit(
        "targets change",
        {
            "envs/prod.yaml": "name: changed-linked-values\n",
            "common/base/cm.yaml": CM.format(name="changed-base"),
        },
    )
    assert "changed-linked-values" in manifests(isolated, repo, "c", helm=helm).text
    assert "changed-base" in manifests(isolated, repo, "k").text


def test_git_files_and_unrequested_hidden_files_are_not_written(isolated: Isolated, repo: GitRepo) -> None:
    repo.commit(
        "dotfiles",
        {
            "c/Chart.yaml": CHART,
            "c/.gitconfig": "[core]\n\tfsmonitor = gitconfig-was-written\n",
            "c/.hidden.txt": "hidden-was-written",
            "c/.helmignore": "ignored.txt\n",
            "c/ignored.txt": "helmignore-was-not-honoured",
            "c/templates/cm.yaml": CM.format(name="dots")
            + "data:\n"
            + '  g: {{ .Files.Get ".gitconfig" | quote }}\n'
            + '  c: {{ .Files.Get ".git/config" | quote }}\n'
            + '  h: {{ .Files.Get ".hidden.txt" | quote }}\n'
            + '  i: {{ .Files.Get "ignored.txt" | quote }}\n',
            "k/kustomization.yaml": "configMapGenerator:\n- name: env\n  envs: [.env]\n",
            "k/.env": "KEY=named-hidden-file-is-written\n",
        },
    )

    # a `.git/config` in the tree: git refuses to commit one, `git mktree` builds it
    def git_out(*args: str, stdin: str = "") -> str:
        done = subprocess.run(
            ["git", f"--git-dir={repo.bare}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            env={
                **os.environ,
                **{f"GIT_{who}_{what}": "t" for who in ("AUTHOR", "COMMITTER") for what in ("NAME", "EMAIL")},
            },
        )
        return done.stdout.strip()

    blob = git_out("hash-object", "-w", "--stdin", stdin="[core]\n\tfsmonitor = dotgit-was-written\n")
    dotgit = git_out("mktree", stdin=f"100644 blob {blob}\tconfig\n")
    head = git_out("rev-parse", f"{repo.branch}^{{commit}}")
    chart = git_out("ls-tree", f"{head}:c") + f"\n040000 tree {dotgit}\t.git\n"
    root = [line for line in git_out("ls-tree", head).splitlines() if not line.endswith("\tc")]
    root_sha = git_out(
        "mktree", stdin="\n".join([*root, f"040000 tree {git_out('mktree', stdin=chart)}\tc"]) + "\n"
    )
    commit = git_out("commit-tree", root_sha, "-p", head, "-m", ".git in the tree")
    git_out("update-ref", f"refs/heads/{repo.branch}", commit)

    rendered = manifests(isolated, repo, "c")
    assert rendered.code is None, rendered.text
    for marker in ("gitconfig-was-written", "dotgit-was-written", "hidden-was-written"):
        assert marker not in rendered.text
    assert "helmignore-was-not-honoured" not in rendered.text
    built = manifests(isolated, repo, "k")
    assert "named-hidden-file-is-written" in built.text, built.text

"""First contact: render a directory app from a local repository."""

from __future__ import annotations

from collections.abc import Callable

from ferry_devenv.gitrepo import GitRepo
from tests.integration.reposerver.conftest import RepoClient

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


def test_directory_app_from_a_local_repository(
    client: RepoClient, git_repo: Callable[[str], GitRepo]
) -> None:
    repo = git_repo("smoke")
    sha = repo.commit("one", {"app/cm.yaml": CM.format(name="a") + "---\n" + CM.format(name="b")})
    response = client.manifests(f"file://{repo.bare}", "app")
    assert response.revision == sha
    assert response.source_type == "Directory"
    assert list(response.input_paths) == ["app"]
    assert [o["metadata"]["name"] for o in client.objects(f"file://{repo.bare}", "app")] == ["a", "b"]

"""Rendering with the real tools: directory (YAML, JSON, List, recurse, globs), Jsonnet, Kustomize
(corpus overlays, overrides), Helm (corpus chart with parameters, value files, chart repository,
dependencies), source detection and override files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from ferry.v1 import repo_pb2, types_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.servers import HttpServer
from tests.conftest import HELM_PASSWORD, HELM_USER
from tests.integration.reposerver.conftest import RepoClient, status_of

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
CM_JSONNET = "{{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: '{name}' }}, data: {{}} }}"


def src(repo: GitRepo, path: str, **kw: Any) -> types_pb2.ApplicationSource:
    return types_pb2.ApplicationSource(repo_url=f"file://{repo.bare}", path=path, **kw)


def render(
    client: RepoClient, repo: GitRepo, source: types_pb2.ApplicationSource, **kw: Any
) -> list[dict[str, Any]]:
    return client.objects(source.repo_url, source=source, **kw)


def kinds_names(objects: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((o["kind"], o["metadata"]["name"]) for o in objects)


@pytest.fixture
def repo(git_repo: Callable[[str], GitRepo]) -> GitRepo:
    return git_repo("render")


def test_directory_yaml_json_and_lists(client: RepoClient, repo: GitRepo) -> None:
    lst = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            json.loads(json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "in-list"}}))
        ],
    }
    repo.commit(
        "dir",
        {
            "app/multi.yaml": CM.format(name="a") + "---\n" + CM.format(name="b") + "---\n",
            "app/obj.json": json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}),
            "app/list.yml": json.dumps(lst),
            "app/README.md": "not a manifest",
            "app/sub/deep.yaml": CM.format(name="deep"),
            "app/skip-me.yaml": CM.format(name="skipped"),
        },
    )
    flat = kinds_names(render(client, repo, src(repo, "app")))
    assert flat == [
        ("ConfigMap", "a"),
        ("ConfigMap", "b"),
        ("ConfigMap", "in-list"),
        ("ConfigMap", "skipped"),
        ("Secret", "s"),
    ]
    recursive = render(
        client,
        repo,
        src(repo, "app", directory=types_pb2.ApplicationSourceDirectory(recurse=True, exclude="skip-*")),
    )
    assert ("ConfigMap", "deep") in kinds_names(recursive)
    assert ("ConfigMap", "skipped") not in kinds_names(recursive)
    only = render(
        client,
        repo,
        src(repo, "app", directory=types_pb2.ApplicationSourceDirectory(include="{obj.json,list.yml}")),
    )
    assert kinds_names(only) == [("ConfigMap", "in-list"), ("Secret", "s")]


def test_jsonnet_with_ext_vars_tlas_and_libraries(client: RepoClient, repo: GitRepo) -> None:
    repo.commit(
        "jsonnet",
        {
            "lib/util.libsonnet": (
                "{ cm(name, env): { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name }, "
                "data: { env: env } } }"
            ),
            "app/main.jsonnet": (
                "local util = import 'util.libsonnet';\n"
                "local local_part = import 'part.libsonnet';\n"
                "function(replicas) [util.cm('from-lib', std.extVar('env')),\n"
                "  local_part { data+: { r: std.toString(replicas) } }]\n"
            ),
            "app/part.libsonnet": CM_JSONNET.format(name="local"),
        },
    )
    jsonnet = types_pb2.ApplicationSourceJsonnet(
        ext_vars=[types_pb2.JsonnetVar(name="env", value="prod")],
        tlas=[types_pb2.JsonnetVar(name="replicas", value="3", code=True)],
        libs=["lib"],
    )
    response = client.manifests(
        f"file://{repo.bare}",
        source=src(repo, "app", directory=types_pb2.ApplicationSourceDirectory(jsonnet=jsonnet)),
    )
    objects = [json.loads(m) for m in response.manifests]
    assert objects[0]["data"] == {"env": "prod"}
    assert objects[1]["data"] == {"r": "3"}
    assert set(response.input_paths) == {"app", "lib"}


def test_jsonnet_imports_cannot_leave_the_repository(client: RepoClient, repo: GitRepo) -> None:
    repo.commit("escape", {"app/main.jsonnet": "import '../../../../etc/passwd'"})
    code, message = status_of(lambda: render(client, repo, src(repo, "app")))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "leaves the repository" in message


def test_kustomize_corpus_overlay(client: RepoClient, repo: GitRepo, corpus: Path) -> None:
    repo.copy_tree(corpus / "deploy", "deploy")
    repo.commit("corpus")
    response = client.manifests(f"file://{repo.bare}", source=src(repo, "deploy/overlays/dev"))
    objects = [json.loads(m) for m in response.manifests]
    assert response.source_type == "Kustomize"
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"dev"}
    assert set(response.input_paths) == {
        "deploy/overlays/dev",
        "deploy/bases/backend",
        "deploy/bases/frontend",
        "deploy/bases/cache",
        "deploy/bases/database",
    }


def test_kustomize_overrides(client: RepoClient, repo: GitRepo, corpus: Path) -> None:
    repo.copy_tree(corpus / "kustomize", "podinfo")
    repo.commit("kustomize app")
    kustomize = types_pb2.ApplicationSourceKustomize(
        name_prefix="pre-",
        name_suffix="-suf",
        images=["ghcr.io/stefanprodan/podinfo:9.9.9"],
        namespace="override-ns",
        common_labels={"team": "web"},
        common_annotations={"owner": "ferry"},
        replicas=[types_pb2.KustomizeReplica(name="podinfo", count=4)],
    )
    objects = render(client, repo, src(repo, "podinfo", kustomize=kustomize))
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == "pre-podinfo-suf"
    assert deployment["metadata"]["namespace"] == "override-ns"
    assert deployment["metadata"]["labels"]["team"] == "web"
    assert deployment["metadata"]["annotations"]["owner"] == "ferry"
    assert deployment["spec"]["replicas"] == 4
    assert (
        deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        == "ghcr.io/stefanprodan/podinfo:9.9.9"
    )


def test_helm_chart_in_git_with_parameters(client: RepoClient, repo: GitRepo, corpus: Path) -> None:
    repo.copy_tree(corpus / "charts" / "podinfo", "charts/podinfo")
    repo.commit("chart", {"envs/prod-values.yaml": "replicaCount: 5\nhpa:\n  enabled: false\n"})
    helm = types_pb2.ApplicationSourceHelm(
        release_name="shop",
        value_files=["values-prod.yaml", "../../envs/prod-values.yaml"],
        values="ui:\n  message: from-inline\n",
        parameters=[
            types_pb2.HelmParameter(name="image.tag", value="6.0.0"),
            types_pb2.HelmParameter(name="ui.color", value="#123456", force_string=True),
        ],
    )
    response = client.manifests(
        f"file://{repo.bare}",
        source=src(repo, "charts/podinfo", helm=helm),
        namespace="web",
        kube_version="1.36.3",
    )
    assert response.source_type == "Helm"
    assert set(response.input_paths) == {"charts/podinfo", "envs/prod-values.yaml"}
    objects = [json.loads(m) for m in response.manifests]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == "shop-podinfo"
    assert deployment["metadata"]["namespace"] == "web"
    assert deployment["spec"]["replicas"] == 5
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith(":6.0.0")
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env.get("PODINFO_UI_MESSAGE") == "from-inline"
    assert env.get("PODINFO_UI_COLOR") == "#123456"


def test_helm_value_files_outside_the_repository_are_refused(
    client: RepoClient, repo: GitRepo, corpus: Path
) -> None:
    repo.copy_tree(corpus / "charts" / "podinfo", "charts/podinfo")
    repo.commit("chart")
    for bad in ("../../../etc/passwd", "/etc/passwd", "https://example.com/values.yaml"):
        helm = types_pb2.ApplicationSourceHelm(value_files=[bad])
        code, message = status_of(lambda h=helm: render(client, repo, src(repo, "charts/podinfo", helm=h)))
        assert code is grpc.StatusCode.INVALID_ARGUMENT
        assert bad in message


def test_helm_chart_with_a_local_dependency(client: RepoClient, repo: GitRepo) -> None:
    repo.commit(
        "umbrella",
        {
            "charts/umbrella/Chart.yaml": (
                "apiVersion: v2\nname: umbrella\nversion: 0.1.0\n"
                "dependencies:\n- name: lib\n  version: 0.1.0\n  repository: file://../lib\n"
            ),
            "charts/umbrella/templates/cm.yaml": CM.format(name="umbrella"),
            "charts/lib/Chart.yaml": "apiVersion: v2\nname: lib\nversion: 0.1.0\n",
            "charts/lib/templates/cm.yaml": CM.format(name="from-dependency"),
        },
    )
    response = client.manifests(f"file://{repo.bare}", source=src(repo, "charts/umbrella"))
    assert kinds_names([json.loads(m) for m in response.manifests]) == [
        ("ConfigMap", "from-dependency"),
        ("ConfigMap", "umbrella"),
    ]
    assert set(response.input_paths) == {"charts/umbrella", "charts/lib"}


def test_chart_from_a_helm_repository(client: RepoClient, helm_repo: HttpServer) -> None:
    url = helm_repo.url().rstrip("/")
    repository = types_pb2.Repository(repo=url, type="helm", username=HELM_USER, password=HELM_PASSWORD)
    source = types_pb2.ApplicationSource(repo_url=url, chart="podinfo", target_revision=">=6.0.0")
    response = client.manifests(repository, source=source, app_name="from-repo", kube_version="1.36.3")
    assert response.source_type == "Helm"
    assert response.revision  # the chart version the constraint chose
    objects = [json.loads(m) for m in response.manifests]
    assert ("Deployment", "from-repo-podinfo") in kinds_names(objects)
    denied = types_pb2.Repository(repo=url, type="helm")
    code, _ = status_of(lambda: client.manifests(denied, source=source))
    assert code is grpc.StatusCode.PERMISSION_DENIED
    missing = types_pb2.ApplicationSource(repo_url=url, chart="podinfo", target_revision=">=99")
    code, message = status_of(lambda: client.manifests(repository, source=missing))
    assert code is grpc.StatusCode.NOT_FOUND
    assert ">=99" in message


def test_source_type_detection_and_explicit_blocks(client: RepoClient, repo: GitRepo, corpus: Path) -> None:
    repo.copy_tree(corpus / "kustomize", "k")
    repo.commit("both", {"d/cm.yaml": CM.format(name="d")})
    assert client.manifests(f"file://{repo.bare}", source=src(repo, "k")).source_type == "Kustomize"
    forced = src(repo, "k", directory=types_pb2.ApplicationSourceDirectory())
    assert client.manifests(f"file://{repo.bare}", source=forced).source_type == "Directory"
    both = src(
        repo, "d", helm=types_pb2.ApplicationSourceHelm(), kustomize=types_pb2.ApplicationSourceKustomize()
    )
    code, message = status_of(lambda: client.manifests(f"file://{repo.bare}", source=both))
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert "helm and kustomize" in message


def test_override_files_in_the_app_path(client: RepoClient, repo: GitRepo, corpus: Path) -> None:
    repo.copy_tree(corpus / "kustomize", "podinfo")
    repo.commit("overrides", {"podinfo/.argocd-source.yaml": "kustomize:\n  namePrefix: argo-\n"})
    deployment = next(o for o in render(client, repo, src(repo, "podinfo")) if o["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == "argo-podinfo"
    repo.commit("ferry wins", {"podinfo/.argocd-source-app.yaml": "kustomize:\n  namePrefix: mine-\n"})
    deployment = next(o for o in render(client, repo, src(repo, "podinfo")) if o["kind"] == "Deployment")
    assert deployment["metadata"]["name"] == "mine-podinfo"


def test_app_details_and_list_apps(client: RepoClient, repo: GitRepo, corpus: Path) -> None:
    repo.copy_tree(corpus / "charts" / "podinfo", "charts/podinfo")
    repo.copy_tree(corpus / "kustomize", "kustomize")
    repo.commit("apps")
    apps = client.call(
        "ListApps", repo_pb2.ListAppsRequest(repo=types_pb2.Repository(repo=f"file://{repo.bare}"))
    ).apps
    assert dict(apps) == {"charts/podinfo": "Helm", "kustomize": "Kustomize"}
    query = repo_pb2.RepoServerAppDetailsQuery(source=src(repo, "charts/podinfo"))
    details = client.call("GetAppDetails", query)
    assert details.type == "Helm"
    assert "values-prod.yaml" in details.helm.value_files
    assert any(p.name == "replicaCount" for p in details.helm.parameters)
    kustomize = client.call(
        "GetAppDetails", repo_pb2.RepoServerAppDetailsQuery(source=src(repo, "kustomize"))
    )
    assert any(image.startswith("ghcr.io/stefanprodan/podinfo") for image in kustomize.kustomize.images)

"""A gRPC client of the ferry-reposerver process under test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from ferry.servicetoken import TokenSource
from ferry.v1 import repo_pb2, repo_pb2_grpc, types_pb2
from tests.conftest import SERVICE_KEY, RunningServer


class RepoClient:
    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.channel = grpc.insecure_channel(server.address)
        self.stub = repo_pb2_grpc.RepoServiceStub(self.channel)
        self.tokens = TokenSource(SERVICE_KEY.encode(), "test")

    def call(self, method: str, request: Any, *, metadata: Any = None, timeout: float = 120) -> Any:
        return getattr(self.stub, method)(
            request, metadata=self.tokens.metadata() if metadata is None else metadata, timeout=timeout
        )

    def manifests(
        self, repo: str | types_pb2.Repository, path: str = "", revision: str = "", **kw: Any
    ) -> Any:
        repository = repo if isinstance(repo, types_pb2.Repository) else types_pb2.Repository(repo=repo)
        source = kw.pop("source", None) or types_pb2.ApplicationSource(repo_url=repository.repo, path=path)
        request = repo_pb2.ManifestRequest(
            repo=repository,
            application_source=source,
            revision=revision,
            app_name=kw.pop("app_name", "app"),
            namespace=kw.pop("namespace", "default"),
            # like the default project, which permits every repository, unless a test says otherwise
            source_repos=kw.pop("source_repos", ["*"]),
            **kw,
        )
        return self.call("GenerateManifests", request)

    def objects(self, *args: Any, **kw: Any) -> list[dict[str, Any]]:
        return [json.loads(m) for m in self.manifests(*args, **kw).manifests]

    def renders(self) -> float:
        return self.server.metric("ferry_repo_render_total")

    def close(self) -> None:
        self.channel.close()


@pytest.fixture
def client(reposerver_process: RunningServer) -> Iterator[RepoClient]:
    c = RepoClient(reposerver_process)
    yield c
    c.close()


def status_of(call: Any) -> tuple[grpc.StatusCode, str]:
    """(code, message) of a call expected to fail."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    err = info.value
    return err.code(), err.details() or ""

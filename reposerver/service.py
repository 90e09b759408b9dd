"""ferry.v1.RepoService: a thin adapter from requests to the Generator."""

from __future__ import annotations

from ferry.errors import InvalidArgument
from ferry.interceptors import Context
from ferry.v1 import repo_pb2, repo_pb2_grpc, types_pb2
from reposerver.generator import Generator


class RepoService(repo_pb2_grpc.RepoServiceServicer):
    def __init__(self, generator: Generator) -> None:
        self.generator = generator

    async def GenerateManifests(
        self, request: repo_pb2.ManifestRequest, context: Context
    ) -> types_pb2.ManifestResponse:
        return await self.generator.generate(request)

    async def ResolveRevision(
        self, request: repo_pb2.ResolveRevisionRequest, context: Context
    ) -> repo_pb2.ResolveRevisionResponse:
        if request.refs_read_after_ms < 0:
            raise InvalidArgument("refs_read_after_ms must not be negative")
        sha = await self.generator.resolve(
            request.repo,
            request.revision,
            no_cache=request.no_cache,
            read_after=request.refs_read_after_ms / 1000 if request.refs_read_after_ms else None,
        )
        return repo_pb2.ResolveRevisionResponse(revision=sha, ambiguous_revision=request.revision)

    async def ListRefs(self, request: repo_pb2.ListRefsRequest, context: Context) -> repo_pb2.Refs:
        return await self.generator.list_refs(request.repo, no_cache=request.no_cache)

    async def GetAppDetails(
        self, request: repo_pb2.RepoServerAppDetailsQuery, context: Context
    ) -> repo_pb2.RepoAppDetailsResponse:
        return await self.generator.app_details(request)

    async def ListApps(self, request: repo_pb2.ListAppsRequest, context: Context) -> repo_pb2.AppList:
        return repo_pb2.AppList(apps=await self.generator.list_apps(request.repo, request.revision))

    async def TestRepository(
        self, request: repo_pb2.TestRepositoryRequest, context: Context
    ) -> repo_pb2.TestRepositoryResponse:
        await self.generator.test_repository(request.repo)
        return repo_pb2.TestRepositoryResponse(verified_repository=True)

    async def GetRevisionMetadata(
        self, request: repo_pb2.RepoServerRevisionMetadataRequest, context: Context
    ) -> types_pb2.RevisionMetadata:
        return await self.generator.revision_metadata(request.repo, request.revision)

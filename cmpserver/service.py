"""ferry.v1.ConfigManagementPluginService: a thin adapter from requests to the Plugin."""

from __future__ import annotations

from cmpserver.plugin import Plugin
from ferry.interceptors import Context
from ferry.v1 import cmp_pb2, cmp_pb2_grpc


class PluginService(cmp_pb2_grpc.ConfigManagementPluginServiceServicer):
    def __init__(self, plugin: Plugin) -> None:
        self.plugin = plugin

    async def GetPluginInfo(self, request: cmp_pb2.PluginInfoRequest, context: Context) -> cmp_pb2.PluginInfo:
        return self.plugin.info()

    async def MatchRepository(
        self, request: cmp_pb2.PluginAppRequest, context: Context
    ) -> cmp_pb2.MatchRepositoryResponse:
        enabled = self.plugin.config.discover.enabled
        supported = enabled and await self.plugin.match(request)
        return cmp_pb2.MatchRepositoryResponse(is_supported=supported, is_discovery_enabled=enabled)

    async def GenerateManifest(
        self, request: cmp_pb2.PluginAppRequest, context: Context
    ) -> cmp_pb2.PluginManifestResponse:
        return cmp_pb2.PluginManifestResponse(output=await self.plugin.generate(request))

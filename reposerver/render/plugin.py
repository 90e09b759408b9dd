"""Plugin sources: an app rendered by a config management plugin, a ferry-cmp-server (Argo CD's
sidecar) listening on ``<--plugin-socket-dir>/<name>[-<version>].sock``.

The app's directory is materialized from the commit, hidden files included (in-repository links
copied, links that leave the repository refused, git's own files never written), packed
(ferry.cmp.pack) and sent to the plugin; the plugin's output is parsed here, under the repo
server's manifest limits, like any other render's. The plugin sees the app's directory only, so
that directory (and what links in it resolve to) is the render's input: a commit that changes
nothing under it reuses the render.

Which plugin: ``plugin.name`` names one (an unknown name is FAILED_PRECONDITION naming it and the
installed plugins); a ``plugin`` block without a name, or an app without an explicit type, goes to
the first plugin, in socket-name order, whose discover rule matches — before the built-in
detection, as in Argo CD (util/app/discovery checks plugins first).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import grpc

from ferry import cmp
from ferry.errors import FailedPrecondition, FerryError, ResourceExhausted, Unavailable, from_status
from ferry.redact import redact, strip_userinfo
from ferry.serving import CLIENT_MESSAGE_OPTIONS
from ferry.v1 import cmp_pb2, cmp_pb2_grpc
from reposerver.render import RenderContext, RenderResult
from reposerver.source import SourceType, objects_from_yaml

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plugins:
    """The plugins installed next to the repo server: one socket each in ``socket_dir``."""

    socket_dir: Path
    timeout: float = 190.0  # one call: init and generate, each within the plugin's own --exec-timeout

    def installed(self) -> list[str]:
        """Full names (``<name>[-<version>]``) of the plugins with a socket, sorted."""
        try:
            return sorted(
                p.name.removesuffix(cmp.SOCKET_SUFFIX)
                for p in self.socket_dir.iterdir()
                if p.name.endswith(cmp.SOCKET_SUFFIX) and p.is_socket()
            )
        except FileNotFoundError:
            return []

    def socket(self, name: str) -> Path:
        return self.socket_dir / f"{name}{cmp.SOCKET_SUFFIX}"

    def require(self, name: str) -> str:
        installed = self.installed()
        if name not in installed:
            shown = ", ".join(installed) or "none"
            raise FailedPrecondition(
                f"config management plugin {name!r} is not installed: no {name}{cmp.SOCKET_SUFFIX} in "
                f"{self.socket_dir} (installed: {shown}; a plugin with a version is named <name>-<version>)"
            )
        return name

    async def _call(self, name: str, method: str, request: cmp_pb2.PluginAppRequest) -> object:
        socket = self.socket(name)
        async with grpc.aio.insecure_channel(f"unix:{socket}", options=CLIENT_MESSAGE_OPTIONS) as channel:
            stub = cmp_pb2_grpc.ConfigManagementPluginServiceStub(channel)
            try:
                return await getattr(stub, method)(request, timeout=self.timeout)
            except grpc.aio.AioRpcError as err:
                raise _translate(name, socket, err, self.timeout) from None

    async def matches(self, name: str, request: cmp_pb2.PluginAppRequest) -> bool:
        response = await self._call(name, "MatchRepository", request)
        assert isinstance(response, cmp_pb2.MatchRepositoryResponse)
        return response.is_supported

    async def generate(self, name: str, request: cmp_pb2.PluginAppRequest) -> bytes:
        response = await self._call(name, "GenerateManifest", request)
        assert isinstance(response, cmp_pb2.PluginManifestResponse)
        return response.output


def _translate(name: str, socket: Path, err: grpc.aio.AioRpcError, timeout: float) -> FerryError:
    details = redact(err.details() or "")
    code = err.code()
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ResourceExhausted(
            f"config management plugin {name} did not answer within {timeout:g}s "
            "(limit --plugin-timeout of the repo server)"
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable(f"config management plugin {name} is not answering on {socket}: {details}")
    if not details.startswith(f"plugin {name}"):
        details = f"plugin {name}: {details}"
    return from_status(code, details)


def app_request(ctx: RenderContext, archive: bytes) -> cmp_pb2.PluginAppRequest:
    source = ctx.source
    return cmp_pb2.PluginAppRequest(
        archive=archive,
        app_name=ctx.app_name,
        app_namespace=ctx.namespace,
        project_name=ctx.project,
        revision=str(ctx.tree.commit.id),
        source_path=ctx.path,
        repo_url=strip_userinfo(source.repo_url),
        target_revision=source.target_revision,
        kube_version=ctx.kube_version,
        api_versions=list(ctx.api_versions),
        plugin=source.plugin,
    )


@dataclass(frozen=True)
class PackedApp:
    request: cmp_pb2.PluginAppRequest
    inputs: set[str]


def pack_app(ctx: RenderContext) -> PackedApp:
    """The app's directory as the plugin receives it, and the repository paths it holds."""
    # hidden files are written only when asked for by name: a plugin gets them (.sops.yaml, ...)
    hidden = [
        f
        for f in ctx.tree.walk_files(ctx.path, recurse=True)
        if any(part.startswith(".") for part in f.removeprefix(ctx.path).split("/"))
    ]
    workdir = Path(tempfile.mkdtemp(prefix="ferry-plugin-"))
    try:
        linked = ctx.tree.materialize(workdir, [ctx.path, *hidden])
        app_dir = workdir / ctx.path if ctx.path else workdir
        app_dir.mkdir(parents=True, exist_ok=True)
        archive = cmp.pack(app_dir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return PackedApp(app_request(ctx, archive), {ctx.path or "/", *linked})


async def discover(plugins: Plugins, app: PackedApp) -> str | None:
    """The first installed plugin (by name) whose discover rule matches the app; a plugin that
    does not answer is passed over (a stale socket must not fail every directory app)."""
    for name in plugins.installed():
        try:
            if await plugins.matches(name, app.request):
                return name
        except Unavailable as err:
            log.warning("plugin passed over in discovery", extra={"plugin": name, "error": err.message})
    return None


async def render_plugin(
    ctx: RenderContext, plugins: Plugins | None, name: str, app: PackedApp
) -> RenderResult:
    """Renders the packed app with plugin ``name`` (required: installed)."""
    if plugins is None:
        raise FailedPrecondition(
            f"config management plugin {name!r} is not installed: the repo server has no --plugin-socket-dir"
        )
    plugins.require(name)
    output = await plugins.generate(name, app.request)
    manifests = objects_from_yaml(output, f"plugin {name} output", limits=ctx.limits)
    return RenderResult(SourceType.PLUGIN, manifests, app.inputs)

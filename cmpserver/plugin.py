"""One config management plugin at work: an app's archive in, the plugin's output out.

For every request the app's directory is extracted (ferry.cmp.unpack) into a fresh private work
dir that holds nothing else, and the plugin's commands run there through ferry.subproc: a sandbox
with an empty HOME, no inherited environment beyond PATH and proxies, rlimits, an output limit and
a timeout. The environment a command gets is exactly Argo CD's build environment, so plugins
written for Argo CD run unchanged:

- ``ARGOCD_APP_NAME``, ``ARGOCD_APP_NAMESPACE``, ``ARGOCD_APP_PROJECT_NAME``,
  ``ARGOCD_APP_REVISION`` (+ ``_SHORT``, ``_SHORT_8``), ``ARGOCD_APP_SOURCE_PATH``,
  ``ARGOCD_APP_SOURCE_REPO_URL``, ``ARGOCD_APP_SOURCE_TARGET_REVISION``, ``KUBE_VERSION``,
  ``KUBE_API_VERSIONS``;
- ``ARGOCD_ENV_<name>`` per ``plugin.env`` entry (``$VAR`` / ``${VAR}`` of the variables above
  expanded in its value, as Argo CD does);
- ``ARGOCD_APP_PARAMETERS`` (the parameters as JSON) and ``PARAM_<NAME>``, ``PARAM_<NAME>_<i>``,
  ``PARAM_<NAME>_<KEY>`` per string, array item and map entry (names upper-cased, anything but
  ``A-Z0-9_`` made ``_``).

Concurrency: requests run concurrently on one asyncio loop; with ``lockRepo`` the commands of
requests for the same repository run one at a time. This module never parses the output: the repo
server does, under its manifest limits.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

from cmpserver.config import Command, PluginConfig
from cmpserver.isolation import MISSING_MARK, Isolation
from ferry import cmp, subproc
from ferry.convert import to_k8s
from ferry.errors import FailedPrecondition, InvalidArgument, ResourceExhausted
from ferry.redact import strip_userinfo
from ferry.v1 import cmp_pb2, types_pb2

_ESCAPED = re.compile(r"[^A-Z0-9_]")
_REFERENCE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _escaped(name: str) -> str:
    return _ESCAPED.sub("_", name.upper())


def build_env(req: cmp_pb2.PluginAppRequest) -> dict[str, str]:
    """Argo CD's build environment of an app (the ARGOCD_APP_* and KUBE_* variables)."""
    return {
        "ARGOCD_APP_NAME": req.app_name,
        "ARGOCD_APP_NAMESPACE": req.app_namespace,
        "ARGOCD_APP_PROJECT_NAME": req.project_name,
        "ARGOCD_APP_REVISION": req.revision,
        "ARGOCD_APP_REVISION_SHORT": req.revision[:7],
        "ARGOCD_APP_REVISION_SHORT_8": req.revision[:8],
        "ARGOCD_APP_SOURCE_PATH": req.source_path,
        "ARGOCD_APP_SOURCE_REPO_URL": strip_userinfo(req.repo_url),
        "ARGOCD_APP_SOURCE_TARGET_REVISION": req.target_revision,
        "KUBE_VERSION": req.kube_version,
        "KUBE_API_VERSIONS": ",".join(req.api_versions),
    }


def _expand(value: str, env: dict[str, str]) -> str:
    return _REFERENCE.sub(lambda m: env.get(m.group("braced") or m.group("plain"), ""), value)


def parameter_env(parameters: list[types_pb2.ApplicationSourcePluginParameter]) -> dict[str, str]:
    env = {"ARGOCD_APP_PARAMETERS": json.dumps([to_k8s(p) for p in parameters], separators=(",", ":"))}
    for param in parameters:
        base = f"PARAM_{_escaped(param.name)}"
        if param.HasField("string"):
            env[base] = param.string
        for key, value in sorted(param.map.items()):
            env[f"{base}_{_escaped(key)}"] = value
        for index, item in enumerate(param.array):
            env[f"{base}_{index}"] = item
    return env


def app_env(req: cmp_pb2.PluginAppRequest) -> dict[str, str]:
    """Everything a plugin's command sees besides the sandbox's own variables."""
    env = build_env(req)
    for entry in req.plugin.env:
        if not _ENV_NAME.match(entry.name):
            raise InvalidArgument(
                f"plugin env name {entry.name!r} is not a valid variable name (letters, digits and _)"
            )
        env[f"ARGOCD_ENV_{entry.name}"] = _expand(entry.value, build_env(req))
    env.update(parameter_env(list(req.plugin.parameters)))
    return env


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A doublestar glob (``**`` crosses directories, ``*`` and ``?`` do not) as a regex."""
    out = []
    i = 0
    pattern = pattern.removeprefix("./")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def _files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.is_symlink()
    )


class Plugin:
    """Runs one PluginConfig; ``timeout`` bounds each command (init, generate, discover)."""

    def __init__(
        self,
        config: PluginConfig,
        *,
        work_dir: Path,
        timeout: float = 90.0,
        max_archive_bytes: int = cmp.DEFAULT_MAX_ARCHIVE_BYTES,
        max_archive_entries: int = cmp.DEFAULT_MAX_ARCHIVE_ENTRIES,
        isolation: Isolation | None = None,
    ) -> None:
        self.config = config
        self.isolation = isolation or Isolation(False, work_dir / "roots")
        self.work_dir = work_dir
        self.timeout = timeout
        self.max_archive_bytes = max_archive_bytes
        self.max_archive_entries = max_archive_entries
        self.full_name = cmp.plugin_full_name(config.name, config.version)
        self._repo_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def info(self) -> cmp_pb2.PluginInfo:
        return cmp_pb2.PluginInfo(
            name=self.config.name,
            version=self.config.version,
            lock_repo=self.config.lock_repo,
            preserve_file_mode=self.config.preserve_file_mode,
            discovery_enabled=self.config.discover.enabled,
            static_parameters=json.dumps(list(self.config.static_parameters)),
        )

    async def _extract(self, req: cmp_pb2.PluginAppRequest) -> Path:
        self.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix="app-", dir=self.work_dir))
        try:
            await asyncio.to_thread(
                cmp.unpack,
                req.archive,
                root,
                max_bytes=self.max_archive_bytes,
                max_entries=self.max_archive_entries,
                preserve_file_mode=self.config.preserve_file_mode,
            )
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return root

    async def _run(self, phase: str, command: Command, root: Path, env: dict[str, str]) -> subproc.Completed:
        new_root = self.isolation.new_root() if self.isolation.enabled else None
        try:
            async with subproc.sandbox() as box:
                argv = self.isolation.argv(command.argv, app=root, home=box.home, root=new_root or root)
                return await subproc.run(argv, timeout=self.timeout, env=env, cwd=root, check=True, box=box)
        except subproc.ToolMissing:
            raise self._missing(phase, command) from None
        except subproc.ToolError as err:
            if err.returncode == 127 and MISSING_MARK in err.stderr:
                raise self._missing(phase, command) from None
            shown = " ".join(command.argv)
            if len(shown) > 200:
                shown = shown[:200] + "..."
            raise InvalidArgument(
                f"plugin {self.full_name}: {phase} command `{shown}` failed (exit {err.returncode}): "
                f"{err.stderr.strip()}"
            ) from None
        except subproc.ToolTimeout:
            raise ResourceExhausted(
                f"plugin {self.full_name}: {phase} did not finish within {self.timeout:g}s and was killed "
                f"(limit --exec-timeout={self.timeout:g}s of ferry-cmp-server)"
            ) from None
        except subproc.ToolLimitExceeded as err:
            what = err.message.removeprefix(f"{err.tool} ")  # the tool is unshare when isolated
            raise ResourceExhausted(f"plugin {self.full_name}: {phase} {what}") from None
        finally:
            if new_root is not None:
                shutil.rmtree(new_root, ignore_errors=True)  # an empty mount point on the host

    def _missing(self, phase: str, command: Command) -> FailedPrecondition:
        where = " or in the isolated root (--isolation-bind)" if self.isolation.enabled else ""
        return FailedPrecondition(
            f"plugin {self.full_name}: {phase} command {command.argv[0]!r} is not installed in the plugin "
            f"server's image (not found on PATH{where})"
        )

    async def match(self, req: cmp_pb2.PluginAppRequest) -> bool:
        """Argo CD's discover rules: fileName (a glob in the app dir), find.glob (a doublestar glob
        over the app's files), find.command (exit 0 with something on stdout)."""
        discover = self.config.discover
        if not discover.enabled:
            return False
        root = await self._extract(req)
        try:
            if discover.file_name or discover.glob:
                files = await asyncio.to_thread(_files, root)
                for pattern in (discover.file_name, discover.glob):
                    if pattern and any(_glob_regex(pattern).match(f) for f in files):
                        return True
                return False
            try:
                done = await self._run("discover", discover.command, root, app_env(req))
            except InvalidArgument:
                return False  # a discover command that fails says "not mine"
            return bool(done.stdout.strip())
        finally:
            shutil.rmtree(root, ignore_errors=True)

    async def generate(self, req: cmp_pb2.PluginAppRequest) -> bytes:
        """init (when the plugin has one), then generate; generate's stdout."""
        env = app_env(req)
        root = await self._extract(req)
        try:
            if self.config.lock_repo:
                async with self._repo_locks[strip_userinfo(req.repo_url)]:
                    return await self._commands(root, env)
            return await self._commands(root, env)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    async def _commands(self, root: Path, env: dict[str, str]) -> bytes:
        if self.config.init:
            await self._run("init", self.config.init, root, env)
        return (await self._run("generate", self.config.generate, root, env)).stdout

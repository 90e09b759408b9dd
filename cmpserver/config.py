"""An Argo CD ``plugin.yaml`` (``ConfigManagementPlugin``, argoproj.io/v1alpha1) read into frozen
values, refusing what ferry cannot honour with a message naming the field. The file is the
plugin author's and the operator's, so a plugin written for Argo CD loads unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG = "/home/argocd/cmp-server/config/plugin.yaml"


class PluginConfigError(Exception):
    """The plugin.yaml is unusable; the message says which field and why."""


@dataclass(frozen=True)
class Command:
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()

    @property
    def argv(self) -> list[str]:
        return [*self.command, *self.args]

    def __bool__(self) -> bool:
        return bool(self.command)


@dataclass(frozen=True)
class Discover:
    file_name: str = ""
    glob: str = ""
    command: Command = Command()

    @property
    def enabled(self) -> bool:
        return bool(self.file_name or self.glob or self.command)


@dataclass(frozen=True)
class PluginConfig:
    name: str
    version: str = ""
    init: Command = Command()
    generate: Command = Command()
    discover: Discover = Discover()
    static_parameters: tuple[dict[str, Any], ...] = ()
    preserve_file_mode: bool = False
    lock_repo: bool = False


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise PluginConfigError(f"{where} must be a list of strings")
    return tuple(str(v) for v in value)


def _command(value: Any, where: str, *, required: bool = False) -> Command:
    if value is None:
        if required:
            raise PluginConfigError(f"{where}.command is required")
        return Command()
    if not isinstance(value, dict):
        raise PluginConfigError(f"{where} must be a map with command and args")
    command = Command(
        _strings(value.get("command"), f"{where}.command"), _strings(value.get("args"), f"{where}.args")
    )
    if required and not command:
        raise PluginConfigError(f"{where}.command is required")
    return command


def _map(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PluginConfigError(f"{where} must be a map")
    return value


def parse(text: str, where: str = "plugin.yaml") -> PluginConfig:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise PluginConfigError(f"{where} is not valid YAML: {err}") from None
    doc = _map(doc, where)
    if doc.get("kind", "ConfigManagementPlugin") != "ConfigManagementPlugin":
        raise PluginConfigError(f"{where}: kind must be ConfigManagementPlugin, not {doc.get('kind')!r}")
    name = _map(doc.get("metadata"), "metadata").get("name")
    if not isinstance(name, str) or not name:
        raise PluginConfigError(f"{where}: metadata.name is required")
    if "/" in name or name.startswith("."):
        raise PluginConfigError(f"{where}: metadata.name {name!r} must not contain '/' or start with '.'")
    spec = _map(doc.get("spec"), "spec")
    version = str(spec.get("version") or "")
    if "/" in version:
        raise PluginConfigError(f"{where}: spec.version {version!r} must not contain '/'")
    discover = _map(spec.get("discover"), "spec.discover")
    find = _map(discover.get("find"), "spec.discover.find")
    parameters = _map(spec.get("parameters"), "spec.parameters")
    static = parameters.get("static") or []
    if not isinstance(static, list) or not all(isinstance(p, dict) and p.get("name") for p in static):
        raise PluginConfigError(f"{where}: spec.parameters.static must be a list of maps with a name")
    if parameters.get("dynamic"):
        raise PluginConfigError(
            f"{where}: spec.parameters.dynamic is not supported by ferry yet (announce parameters as static)"
        )
    return PluginConfig(
        name=name,
        version=version,
        init=_command(spec.get("init"), "spec.init"),
        generate=_command(spec.get("generate"), "spec.generate", required=True),
        discover=Discover(
            file_name=str(discover.get("fileName") or ""),
            glob=str(find.get("glob") or ""),
            command=_command(find if find.get("command") else None, "spec.discover.find"),
        ),
        static_parameters=tuple(static),
        preserve_file_mode=bool(spec.get("preserveFileMode", False)),
        lock_repo=bool(spec.get("lockRepo", False)),
    )


def load(path: Path) -> PluginConfig:
    try:
        text = path.read_text()
    except OSError as err:
        raise PluginConfigError(f"cannot read the plugin configuration {path}: {err.strerror}") from None
    return parse(text, str(path))

"""Config management plugins as the tests run them: real ferry-cmp-server processes, each with an
Argo CD plugin.yaml (its commands real shell and Python programs), sharing one socket directory
with a ferry-reposerver started for them."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ferry import cmp
from ferry_devenv.process import ManagedProcess, new_workdir
from tests.conftest import RunningServer, start_reposerver

PYTHON = sys.executable

# Argo CD's own example shape: a shell generate that fills a ConfigMap from the environment.
ENV_CM = """
generate:
  command: [sh, -c]
  args:
    - |
      echo "apiVersion: v1"
      echo "kind: ConfigMap"
      echo "metadata:"
      echo "  name: $ARGOCD_APP_NAME-env"
      echo "data:"
      env | grep -E '^(ARGOCD_|PARAM_|HOME=|GIT_CONFIG_GLOBAL=)' | grep -v ARGOCD_APP_PARAMETERS | sort \\
        | while IFS='=' read -r k v; do echo "  $k: \\"$v\\""; done
      echo "  FILES: \\"$(find . -type f | sort | tr '\\n' ' ')\\""
"""


def plugin_yaml(name: str, spec: str, version: str = "") -> str:
    head = (
        f"apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata:\n  name: {name}\nspec:\n"
    )
    if version:
        head += f"  version: {version}\n"
    return head + textwrap.indent(textwrap.dedent(spec).strip() + "\n", "  ")


@dataclass
class PluginHost:
    """A socket directory, the plugin servers listening in it, and a repo server using it."""

    root: Path
    processes: list[ManagedProcess] = field(default_factory=list)

    @property
    def socket_dir(self) -> Path:
        return self.root / "plugins"

    def start(self, name: str, spec: str, *flags: str, version: str = "") -> Path:
        """Starts ferry-cmp-server for a plugin; returns its socket once it listens."""
        config = self.root / "config" / f"{name}.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(plugin_yaml(name, spec, version))
        socket = cmp.socket_path(self.socket_dir, name, version)
        proc = ManagedProcess(
            f"ferry-cmp-server-{name}",
            [
                str(Path(sys.executable).parent / "ferry-cmp-server"),
                "--config",
                str(config),
                "--socket-dir",
                str(self.socket_dir),
                "--work-dir",
                str(self.root / "work" / name),
                "--loglevel",
                "debug",
                # the test plugins' Python (this virtualenv and the interpreter it is made from)
                "--isolation-bind",
                sys.prefix,
                "--isolation-bind",
                sys.base_prefix,
                *flags,
            ],
            log_path=self.root / "logs" / f"{name}.log",
            env=dict(os.environ),
        ).start()
        self.processes.append(proc)
        proc.wait_until(socket.is_socket, timeout=30, what=f"socket {socket}")
        return socket

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()


@contextmanager
def plugin_host(label: str) -> Iterator[PluginHost]:
    host = PluginHost(new_workdir(label))
    try:
        yield host
    finally:
        host.stop()
        if not os.environ.get("FERRY_TEST_KEEP_LOGS"):
            shutil.rmtree(host.root, ignore_errors=True)


@contextmanager
def reposerver_for(host: PluginHost, *flags: str) -> Iterator[tuple[RunningServer, Path]]:
    """A ferry-reposerver using the host's plugins, and its cache directory."""
    cache = new_workdir("plugin-reposerver-cache")
    server = start_reposerver(
        cache,
        "--plugin-socket-dir",
        str(host.socket_dir),
        "--revision-cache-expiration",
        "0",
        "--loglevel",
        "debug",
        "--allow-local-repos",
        *flags,
    )
    try:
        yield server, cache
    finally:
        server.stop()
        shutil.rmtree(cache, ignore_errors=True)

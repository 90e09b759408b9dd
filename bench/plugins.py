"""Cost of rendering through a config management plugin against running the same script directly,
on the podinfo corpus (``kustomize build`` and ``helm template`` as plugin ``generate`` commands).

Each round, interleaved so machine noise hits both alike:
- direct: the plugin's generate command started in a copy of the app directory with a plain
  environment, output read with ``communicate()``;
- through the plugin: what the repo server does per render once it has the files on disk: pack
  the app directory (ferry.cmp.pack), call GenerateManifest on a ferry-cmp-server process over its
  Unix socket; the plugin server extracts the archive, runs the command in its sandbox and answers.
  Measured with ``--isolation none`` (the container isolates, as in Argo CD) and with
  ``--isolation namespace`` (user, mount and PID namespaces per command).

Reported: median wall time of each and the ratio to direct. The issue's goal is a ratio under 1.20.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from ferry import cmp
from ferry.v1 import cmp_pb2, cmp_pb2_grpc
from ferry_devenv.process import ManagedProcess, new_workdir
from ferry_devenv.tools import tool

ROUNDS = 30
WARMUP = 3
SHARED = Path("/work/shared/corpus/podinfo")
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus" / "podinfo"

PLUGIN = """\
apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: {name}
spec:
  generate:
    command: {argv}
"""


async def direct(argv: list[str], app: Path) -> float:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=app,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": str(app.parent / "home")},
        start_new_session=True,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err
    assert out
    return time.perf_counter() - start


def plugin_call(socket: Path, app: Path) -> Callable[[], Awaitable[float]]:
    channel = grpc.aio.insecure_channel(f"unix:{socket}")
    stub = cmp_pb2_grpc.ConfigManagementPluginServiceStub(channel)

    async def call() -> float:
        start = time.perf_counter()
        request = cmp_pb2.PluginAppRequest(archive=cmp.pack(app), app_name="podinfo", app_namespace="default")
        response = await stub.GenerateManifest(request, timeout=60)
        assert response.output
        return time.perf_counter() - start

    return call


def start_plugin(root: Path, name: str, argv: list[str], isolation: str, binds: list[str]) -> ManagedProcess:
    config = root / f"{name}.yaml"
    config.write_text(PLUGIN.format(name=name, argv=argv))
    args = [str(Path(sys.executable).parent / "ferry-cmp-server"), "--config", str(config)]
    args += ["--socket-dir", str(root / "sockets"), "--work-dir", str(root / "work" / name)]
    args += ["--isolation", isolation, *[f"--isolation-bind={b}" for b in binds]]
    proc = ManagedProcess(name, args, log_path=root / f"{name}.log").start()
    socket = cmp.socket_path(root / "sockets", name)
    proc.wait_until(socket.is_socket, timeout=30, what=f"socket {socket}")
    return proc


async def measure(
    label: str, argv: list[str], app: Path, calls: dict[str, Callable[[], Awaitable[float]]]
) -> None:
    for _ in range(WARMUP):
        await direct(argv, app)
        for call in calls.values():
            await call()
    times: dict[str, list[float]] = {"direct": [], **{k: [] for k in calls}}

    async def run_direct() -> float:
        return await direct(argv, app)

    for index in range(ROUNDS):
        order: list[tuple[str, Callable[[], Awaitable[float]]]] = [("direct", run_direct), *calls.items()]
        if index % 2:
            order.reverse()
        for key, run in order:
            times[key].append(await run())
    base = statistics.median(times["direct"])
    cells = [f"{base * 1000:.1f} ms"]
    for key in calls:
        median = statistics.median(times[key])
        cells.append(f"{median * 1000:.1f} ms ({median / base:.3f})")
    print(f"| {label} | {ROUNDS} | " + " | ".join(cells) + " |", flush=True)


async def main() -> None:
    corpus = SHARED if SHARED.is_dir() else FIXTURE
    helm, kustomize = tool("helm").resolve(), tool("kustomize").resolve()
    binds = sorted({str(helm.parent), str(kustomize.parent)})
    root = new_workdir("bench-plugins")
    cases = {
        "kustomize build podinfo/kustomize": ("kustomize", [str(kustomize), "build", "."]),
        "helm template podinfo (values-prod)": (
            "charts/podinfo",
            [str(helm), "template", "podinfo", ".", "--values", "values-prod.yaml"],
        ),
    }
    processes: list[ManagedProcess] = []
    try:
        (root / "home").mkdir()
        print(f"corpus {corpus}, {ROUNDS} interleaved rounds after {WARMUP} warm-up ones\n")
        print(
            "| generate | rounds | direct p50 | plugin, isolation none (ratio) | plugin, namespace (ratio) |"
        )
        print("|---|---|---|---|---|")
        for index, (label, (path, argv)) in enumerate(cases.items()):
            app = root / f"app-{index}"
            shutil.copytree(corpus / path, app)
            calls = {}
            for isolation in ("none", "namespace"):
                name = f"bench-{index}-{isolation}"
                processes.append(start_plugin(root, name, argv, isolation, binds))
                calls[isolation] = plugin_call(cmp.socket_path(root / "sockets", name), app)
            await measure(label, argv, app, calls)
    finally:
        for proc in processes:
            proc.stop()
        shutil.rmtree(root, ignore_errors=True)


def run() -> None:
    asyncio.run(main())

"""Cost of the tool sandbox on real renders of the podinfo corpus (Kustomize overlay and Helm chart).

Each round runs the same tool invocation twice, interleaved so machine noise hits both alike:
- baseline: the tool started directly with the plain environment ferry used before the sandbox
  (``PATH`` and ``HOME``), output read with ``communicate()``;
- sandboxed: ``ferry.subproc.run`` as the repo server runs it: a fresh private home, git's config
  off, rlimits through ``prlimit``, output read incrementally under its limit.

Then whole renders as the repo server does them (``render_kustomize`` / ``render_helm`` on a
commit holding the corpus: materialize, tool, parse), sandboxed vs the same code with the sandbox
replaced by the plain environment, one reused directory and no ``prlimit``.

Reported: median wall time of each and their ratio, and the same for CPU time (this process's
plus its children's: the tool, prlimit, the sandbox's directory work), which the load other
processes put on a shared machine disturbs far less. The goal is a ratio under 1.10.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pygit2

from ferry import subproc
from ferry.v1 import types_pb2
from ferry_devenv.gitrepo import GitRepo
from ferry_devenv.process import new_workdir
from ferry_devenv.tools import tool
from reposerver.render import RenderContext, Tools
from reposerver.render.helm import render_helm
from reposerver.render.kustomize import render_kustomize
from reposerver.tree import CommitTree

ROUNDS = 60
WARMUP = 3
SHARED = Path("/work/shared/corpus/podinfo")
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus" / "podinfo"


def _cpu() -> float:
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


async def baseline(argv: list[str], home: str) -> tuple[float, float]:
    start, cpu = time.perf_counter(), _cpu()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": home},
        start_new_session=True,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, argv
    assert out, argv
    return time.perf_counter() - start, _cpu() - cpu


async def sandboxed(argv: list[str]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), _cpu()
    done = await subproc.run(argv, timeout=60)
    assert done.stdout, argv
    return time.perf_counter() - start, _cpu() - cpu


async def measure(label: str, argv: list[str]) -> tuple[float, float, float, float]:
    with tempfile.TemporaryDirectory(prefix="ferry-bench-home-") as home:
        for _ in range(WARMUP):
            await baseline(argv, home)
            await sandboxed(argv)
        plain: list[tuple[float, float]] = []
        boxed: list[tuple[float, float]] = []
        for index in range(ROUNDS):
            if index % 2:  # alternate which goes first
                boxed.append(await sandboxed(argv))
                plain.append(await baseline(argv, home))
            else:
                plain.append(await baseline(argv, home))
                boxed.append(await sandboxed(argv))
    p, b = statistics.median(w for w, _ in plain), statistics.median(w for w, _ in boxed)
    pc, bc = statistics.median(c for _, c in plain), statistics.median(c for _, c in boxed)
    print(
        f"| {label} | {ROUNDS} | {p * 1000:.1f} ms | {b * 1000:.1f} ms | {b / p:.3f} "
        f"| {pc * 1000:.1f} ms | {bc * 1000:.1f} ms | {bc / pc:.3f} |"
    )
    return p, b, pc, bc


@contextlib.contextmanager
def unsandboxed(home: Path) -> Iterator[None]:
    """The renderers' tool runs as before the sandbox: the plain env, one reused directory, no
    prlimit (a benchmark baseline only)."""

    @contextlib.asynccontextmanager
    async def reused(**_: object) -> AsyncIterator[subproc.Sandbox]:
        yield subproc.Sandbox(home)

    def plain_env(self: subproc.Sandbox, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "HOME": str(self.root), **(extra or {})}

    saved = subproc.sandbox, subproc.Sandbox.env, subproc._with_rlimits
    subproc.sandbox = reused
    subproc.Sandbox.env = plain_env  # type: ignore[method-assign]
    subproc._with_rlimits = lambda argv, limits: argv
    try:
        yield
    finally:
        subproc.sandbox, subproc.Sandbox.env, subproc._with_rlimits = saved  # type: ignore[method-assign]


async def timed(render: Render) -> tuple[float, float]:
    start, cpu = time.perf_counter(), _cpu()
    await render()
    return time.perf_counter() - start, _cpu() - cpu


Render = Callable[[], Awaitable[object]]


async def measure_render(label: str, render: Render, home: Path) -> tuple[float, ...]:
    async def plain() -> tuple[float, float]:
        with unsandboxed(home):
            return await timed(render)

    for _ in range(WARMUP):
        await plain()
        await timed(render)
    plains: list[tuple[float, float]] = []
    boxed: list[tuple[float, float]] = []
    for index in range(ROUNDS):
        if index % 2:
            boxed.append(await timed(render))
            plains.append(await plain())
        else:
            plains.append(await plain())
            boxed.append(await timed(render))
    p, b = statistics.median(w for w, _ in plains), statistics.median(w for w, _ in boxed)
    pc, bc = statistics.median(c for _, c in plains), statistics.median(c for _, c in boxed)
    print(
        f"| {label} | {ROUNDS} | {p * 1000:.1f} ms | {b * 1000:.1f} ms | {b / p:.3f} "
        f"| {pc * 1000:.1f} ms | {bc * 1000:.1f} ms | {bc / pc:.3f} |"
    )
    return p, b, pc, bc


HEADER = (
    "| {what} | rounds | wall: baseline p50 | sandboxed p50 | ratio "
    "| CPU: baseline p50 | sandboxed p50 | ratio |\n|---|---|---|---|---|---|---|---|"
)


def summary(totals: Sequence[tuple[float, ...]]) -> str:
    wall = sum(t[1] for t in totals) / sum(t[0] for t in totals)
    cpu = sum(t[3] for t in totals) / sum(t[2] for t in totals)
    return f"wall ratio {wall:.3f}, CPU ratio {cpu:.3f} (goal < 1.10)"


async def main() -> None:
    corpus = SHARED if SHARED.is_dir() else FIXTURE
    helm, kustomize = str(tool("helm")), str(tool("kustomize"))
    chart = corpus / "charts" / "podinfo"
    print(f"corpus {corpus}, {ROUNDS} interleaved rounds after {WARMUP} warm-up ones\n")
    print(HEADER.format(what="tool invocation"))
    totals = [
        await measure("kustomize build podinfo/kustomize", [kustomize, "build", str(corpus / "kustomize")]),
        await measure(
            "helm template podinfo (values-prod)",
            [helm, "template", "podinfo", str(chart), "--values", str(chart / "values-prod.yaml")],
        ),
    ]
    print(f"\nsandbox cost on the tool invocations: {summary(totals)}\n")

    root = new_workdir("bench-sandbox")
    repo = GitRepo(root, "podinfo")
    try:
        repo.copy_tree(corpus)
        repo.commit("podinfo")
        bare = pygit2.Repository(str(repo.bare))
        tree = CommitTree(bare, bare.head.peel(pygit2.Commit))
        tools = Tools(helm=helm, kustomize=kustomize)

        def ctx(path: str, **kw: object) -> RenderContext:
            source = types_pb2.ApplicationSource(repo_url="bench", path=path, **kw)  # type: ignore[arg-type]
            return RenderContext(tree, path, source, "podinfo", "default", tools=tools)

        values = types_pb2.ApplicationSourceHelm(value_files=["values-prod.yaml"])
        print(HEADER.format(what="whole render"))
        renders = [
            await measure_render(
                "render_kustomize kustomize", lambda: render_kustomize(ctx("kustomize")), root
            ),
            await measure_render(
                "render_helm charts/podinfo (values-prod)",
                lambda: render_helm(ctx("charts/podinfo", helm=values)),
                root,
            ),
        ]
        print(f"\nsandbox cost on whole renders: {summary(renders)}")
    finally:
        repo.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def run() -> None:
    asyncio.run(main())

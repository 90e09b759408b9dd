"""Cost of the tool sandbox on real renders of the podinfo corpus (Kustomize overlay and Helm chart).

Each round runs the same tool invocation twice, interleaved so machine noise hits both alike:
- baseline: the tool started directly with the plain environment ferry used before the sandbox
  (``PATH`` and ``HOME``), output read with ``communicate()``;
- sandboxed: ``ferry.subproc.run`` as the repo server runs it: a fresh private home, git's config
  off, rlimits through ``prlimit``, output read incrementally under its limit.

Reported: median wall time of each and their ratio, and the same for CPU time (this process's
plus its children's: the tool, prlimit, the sandbox's directory work), which the load other
processes put on a shared machine disturbs far less. The goal is a ratio under 1.10.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import tempfile
import time
from pathlib import Path

from ferry import subproc
from ferry.devenv.tools import tool

ROUNDS = 40
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


async def main() -> None:
    corpus = SHARED if SHARED.is_dir() else FIXTURE
    helm, kustomize = str(tool("helm")), str(tool("kustomize"))
    chart = corpus / "charts" / "podinfo"
    print(f"corpus {corpus}, {ROUNDS} interleaved rounds after {WARMUP} warm-up ones")
    print(
        "| render | rounds | wall: baseline p50 | sandboxed p50 | ratio "
        "| CPU: baseline p50 | sandboxed p50 | ratio |\n|---|---|---|---|---|---|---|---|"
    )
    totals = [
        await measure("kustomize build podinfo/kustomize", [kustomize, "build", str(corpus / "kustomize")]),
        await measure(
            "helm template podinfo (values-prod)",
            [helm, "template", "podinfo", str(chart), "--values", str(chart / "values-prod.yaml")],
        ),
    ]
    wall = sum(t[1] for t in totals) / sum(t[0] for t in totals)
    cpu = sum(t[3] for t in totals) / sum(t[2] for t in totals)
    print(f"\nsandbox cost on both renders: wall ratio {wall:.3f}, CPU ratio {cpu:.3f} (goal < 1.10)")


def run() -> None:
    asyncio.run(main())

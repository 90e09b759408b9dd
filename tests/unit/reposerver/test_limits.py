"""The pure limit logic: measuring parsed documents, the per-request budget, per-key slots."""

from __future__ import annotations

import asyncio
import json

import grpc
import pytest
import yaml

from ferry.errors import ResourceExhausted
from reposerver.limits import Budget, Limits, PerKeySlots, check_document, shape
from reposerver.source import parse_json, parse_yaml


def laughs(levels: int, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for n in range(1, levels):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_shape_counts_what_json_would_write() -> None:
    doc = {"a": [1, "xy", {"b": None}], "c": "z"}
    found = shape(doc)
    assert found.nodes == found.expanded  # nothing shared
    assert found.depth == 3
    assert found.bytes >= len(json.dumps(doc, separators=(",", ":")))


def test_shared_nodes_are_counted_at_every_occurrence_in_linear_time() -> None:
    doc = yaml.safe_load(laughs(9))  # 9**9 leaves once expanded
    found = shape(doc)
    assert found.nodes < 200
    assert found.expanded > 9**9


def test_alias_bomb_is_refused_naming_the_limit() -> None:
    with pytest.raises(ResourceExhausted) as info:
        list(parse_yaml(laughs(9).encode(), "bomb.yaml"))
    assert "bomb.yaml" in info.value.message
    assert "--max-yaml-alias-expansion" in info.value.message
    assert "100000" in info.value.message
    assert info.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_modest_aliases_pass() -> None:
    docs = list(parse_yaml(laughs(3).encode(), "ok.yaml"))  # 9**3 leaves
    assert len(docs[0]["a2"]) == 9


def test_an_alias_to_a_long_string_counts_its_bytes() -> None:
    text = "s: &s " + "x" * 1000 + "\nl: [" + ", ".join(["*s"] * 100) + "]\n"
    with pytest.raises(ResourceExhausted, match="--max-manifest-output-size"):
        list(parse_yaml(text.encode(), "s.yaml", limits=Limits(max_manifest_output_size=50_000)))


def test_an_alias_inside_itself_is_refused() -> None:
    with pytest.raises(ResourceExhausted, match="expands without end"):
        list(parse_yaml(b"a: &a [1, *a]\n", "loop.yaml"))


def test_depth_beyond_the_limit_is_refused_for_yaml_and_json() -> None:
    limits = Limits(max_manifest_depth=50)
    deep = b"[" * 60 + b"]" * 60
    with pytest.raises(ResourceExhausted, match=r"deep.yaml.*--max-manifest-depth"):
        list(parse_yaml(deep, "deep.yaml", limits=limits))
    with pytest.raises(ResourceExhausted, match=r"deep.json.*--max-manifest-depth"):
        parse_json(deep, "deep.json", limits=limits)
    assert parse_json(b"[" * 40 + b"]" * 40, "ok.json", limits=limits) is not None


@pytest.mark.parametrize("depth", [1_001, 200_000])
def test_depth_past_the_parsers_own_guards_is_the_same_error(depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    with pytest.raises(ResourceExhausted, match="--max-manifest-depth"):
        list(parse_yaml(deep, "bomb.yaml"))
    with pytest.raises(ResourceExhausted, match="--max-manifest-depth"):
        parse_json(deep, "bomb.json")


def test_check_document_accepts_an_ordinary_object() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}
    assert check_document(obj, "cm").depth == 2  # containers, not scalars


def test_budget_counts_entries_and_bytes() -> None:
    budget = Budget(Limits(max_repo_files=10, max_repo_size=100, max_file_size=60))
    budget.entry(10)
    with pytest.raises(ResourceExhausted, match=r"--max-repo-files.*|.*10.*--max-repo-files"):
        budget.entry()
    budget = Budget(Limits(max_repo_files=10, max_repo_size=100, max_file_size=60))
    with pytest.raises(ResourceExhausted, match=r"'big' \(61 bytes\).*60 bytes.*--max-file-size"):
        budget.blob("big", 61)
    budget.blob("a", 60)
    with pytest.raises(ResourceExhausted, match=r"100 bytes.*--max-repo-size"):
        budget.blob("b", 41)


def test_per_repo_share_of_the_parallelism() -> None:
    assert Limits().per_repo_slots(4) == 2
    assert Limits().per_repo_slots(1) == 1
    assert Limits(parallelism_limit_per_repo=3).per_repo_slots(2) == 2


def test_per_key_slots_bound_one_key_and_not_another() -> None:
    async def scenario() -> tuple[int, bool]:
        slots = PerKeySlots(2)
        release = asyncio.Event()
        peak = 0
        running = 0

        async def hold(key: str) -> None:
            nonlocal peak, running
            async with slots.hold(key):
                running += 1
                peak = max(peak, running)
                await release.wait()
                running -= 1

        tasks = [asyncio.create_task(hold("a")) for _ in range(5)]
        await asyncio.sleep(0.01)
        other_ran = False

        async def other() -> None:
            nonlocal other_ran
            async with slots.hold("b"):
                other_ran = True

        await asyncio.wait_for(other(), 1)
        a_peak = peak
        release.set()
        await asyncio.gather(*tasks)
        assert slots.holders("a") == 0  # forgotten once idle
        return a_peak, other_ran

    a_peak, other_ran = asyncio.run(scenario())
    assert a_peak == 2
    assert other_ran

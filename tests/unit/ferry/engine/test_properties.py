"""Properties that must hold for every input (hypothesis), and for every corpus manifest."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ferry.engine.diff import diff, normalize
from ferry.engine.ordering import sync_order, tasks_for
from ferry.engine.quantity import canonical
from ferry.engine.status import HealthStatus

keys = st.sampled_from(
    ["name", "image", "port", "limits", "requests", "cpu", "labels", "items", "value", "data"]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10_000, 10_000),
    st.text(max_size=8),
    st.sampled_from(["1000m", "1", "0.5Gi", "128Mi", "80", "TCP"]),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=20,
)


@st.composite
def k8s_objects(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "apiVersion": draw(st.sampled_from(["v1", "apps/v1", "example.com/v1"])),
        "kind": draw(st.sampled_from(["ConfigMap", "Deployment", "Secret", "Widget"])),
        "metadata": {
            "name": draw(st.text(alphabet="abcdefgh-", min_size=1, max_size=10)),
            "labels": draw(
                st.dictionaries(st.sampled_from(["app", "tier"]), st.text(max_size=5), max_size=2)
            ),
        },
        "spec": draw(st.dictionaries(keys, json_values, max_size=5)),
    }


@given(st.lists(st.sampled_from(list(HealthStatus)), min_size=1))
def test_health_order_is_total_and_worst_is_order_independent(statuses: list[HealthStatus]) -> None:
    for a in statuses:
        for b in statuses:
            assert sum([a.is_worse(b), b.is_worse(a), a is b]) == 1
    shuffled = list(statuses)
    random.Random(0).shuffle(shuffled)
    assert HealthStatus.worst(statuses) is HealthStatus.worst(shuffled)
    assert all(not s.is_worse(HealthStatus.worst(statuses)) for s in statuses)


@given(st.lists(k8s_objects(), max_size=8), st.randoms())
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_sync_order_is_deterministic_whatever_the_input_order(
    objs: list[dict[str, Any]], rnd: random.Random
) -> None:
    tasks = [t for o in objs for t in tasks_for(o)]
    shuffled = list(tasks)
    rnd.shuffle(shuffled)
    assert [t.sort_key for t in sync_order(tasks)] == [t.sort_key for t in sync_order(shuffled)]


@given(k8s_objects())
def test_normalisation_is_idempotent(obj: dict[str, Any]) -> None:
    once = normalize(obj)
    assert normalize(once) == once


@given(k8s_objects())
@settings(max_examples=200)
def test_an_object_compared_with_itself_is_synced(obj: dict[str, Any]) -> None:
    assert not diff(obj, obj).modified


@given(st.sampled_from(["1", "1000m", "0.001k", "1e0", "1.0"]))
def test_spellings_of_one_have_one_canonical_form(spelling: str) -> None:
    assert canonical(spelling) == "1"


def test_every_corpus_manifest_compared_with_itself_is_synced(manifests: list[dict[str, Any]]) -> None:
    for manifest in manifests:
        result = diff(manifest, manifest)
        assert not result.modified, (manifest["kind"], result.changed_paths)

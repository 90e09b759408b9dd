"""Sharding's pure parts: which shard a cluster is in (a jump consistent hash of its URL, or its
secret's pin) and what a controller does with the shard Leases it sees (``plan``), including a
simulation of several controllers converging to a fair split whatever order they start and die in."""

from __future__ import annotations

import base64
import random
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.sharding import ShardView, jump_hash, lease_name, plan, shard_of, shard_pins
from ferry.settings import IN_CLUSTER_SERVER

# From the reference C++ code of Lamping & Veach, as listed in github.com/dgryski/go-jump's tests:
# key -> bucket for 1, 2, ... buckets.
REFERENCE = {
    0: [0] * 19,
    1: [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17],
    0xDEADBEEF: [0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16],
    0x0DDC0FFEEBADF00D: [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15],
}


def servers(count: int) -> list[str]:
    rng = random.Random(8)
    return [
        f"https://10.{rng.randrange(256)}.{rng.randrange(256)}.{i % 256}:{6443 + i}" for i in range(count)
    ]


def test_jump_hash_matches_the_reference_implementation() -> None:
    for key, buckets in REFERENCE.items():
        assert [jump_hash(key, n) for n in range(1, len(buckets) + 1)] == buckets


def test_shard_of_is_stable_in_range_and_ignores_a_trailing_slash() -> None:
    assert shard_of(IN_CLUSTER_SERVER, 1) == 0
    assert shard_of(IN_CLUSTER_SERVER, 2) == 1  # documented in docs/operations.md (Sharding)
    for server in servers(200):
        for shards in (2, 3, 7):
            shard = shard_of(server, shards)
            assert 0 <= shard < shards
            assert shard_of(server + "/", shards) == shard
            assert shard_of(server, shards) == shard
    with pytest.raises(ValueError, match="positive"):
        jump_hash(1, 0)


def test_clusters_spread_evenly_over_shards() -> None:
    counts = Counter(shard_of(s, 4) for s in servers(4000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(800 < c < 1200 for c in counts.values()), counts


def test_one_more_shard_moves_only_clusters_into_it() -> None:
    urls = servers(3000)
    for shards in (2, 3, 5):
        moved = [s for s in urls if shard_of(s, shards) != shard_of(s, shards + 1)]
        assert all(shard_of(s, shards + 1) == shards for s in moved)  # only into the new shard
        assert abs(len(moved) / len(urls) - 1 / (shards + 1)) < 0.04


def test_a_cluster_secret_can_pin_its_shard() -> None:
    def secret(name: str, server: str, shard: str | None, kind: str = "cluster") -> dict[str, object]:
        data = {"server": server, "name": name} | ({"shard": shard} if shard is not None else {})
        return {
            "metadata": {"name": name, "labels": {"ferrycd.io/secret-type": kind}},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }

    pins = shard_pins(
        [
            secret("a", "https://a.example:6443/", "1"),
            secret("b", "https://b.example", None),
            secret("c", "https://c.example", "7"),  # out of range: hashed instead
            secret("d", "https://d.example", "two"),
            secret("e", "https://e.example", "0", kind="repository"),
        ],
        3,
    )
    assert pins == {"https://a.example:6443": 1}
    assert lease_name(3) == "ferry-controller-shard-3"


# --- plan ------------------------------------------------------------------------------------------


def views(
    *holders: str, expired: tuple[int, ...] = (), requests: dict[int, str] | None = None
) -> list[ShardView]:
    return [
        ShardView(i, holder, i in expired, (requests or {}).get(i, "")) for i, holder in enumerate(holders)
    ]


def test_a_lone_controller_takes_every_shard_its_preferred_first() -> None:
    decision = plan("a", views("", "", ""), preferred=1)
    assert decision.acquire == [1, 2, 0]
    assert decision.hand_over == []
    assert decision.request is None


def test_an_expired_lease_is_taken_and_a_live_one_is_not() -> None:
    decision = plan("a", views("a", "dead", "b", expired=(1,)))
    assert decision.acquire == [1]
    assert plan("a", views("a", "b")).acquire == []
    # our own Lease is ours, never "expired"
    assert plan("a", views("a", "b", expired=(0,))).acquire == []


def test_a_controller_without_shards_asks_the_busiest_for_its_highest_shard() -> None:
    decision = plan("b", views("a", "a", "a", "c"))
    assert decision.acquire == []
    assert decision.request == 2
    # one request per shard: another requester's shard is left alone
    assert plan("d", views("a", "a", "a", "a", requests={3: "b"})).request == 2
    # our own request is repeated (refreshed)
    assert plan("b", views("a", "a", requests={1: "b"})).request == 1


def test_a_holder_hands_over_to_a_requester_holding_two_fewer() -> None:
    decision = plan("a", views("a", "a", requests={1: "b"}))
    assert decision.hand_over == [(1, "b")]
    # two against one: handing over would only swap the imbalance
    assert plan("a", views("a", "a", "b", requests={1: "b"})).hand_over == []


def test_no_requests_when_there_are_more_controllers_than_shards() -> None:
    assert plan("c", views("a", "b", requests={})).request is None
    # a third controller asking for one of two shards held 1/1 gets none
    assert plan("a", views("a", "b", requests={0: "c"})).hand_over == []


# --- many controllers ------------------------------------------------------------------------------


@dataclass
class Lease:
    holder: str = ""
    requested_by: str = ""


def run_rounds(leases: list[Lease], alive: list[str], rounds: int) -> None:
    """Every live controller looks (dead holders' Leases look expired, dead requesters' requests
    stale) and acts, one after another, as the ShardManager does with its plan."""
    for _ in range(rounds):
        for me in alive:
            seen = [
                ShardView(
                    i,
                    lease.holder,
                    bool(lease.holder) and lease.holder not in alive,
                    lease.requested_by if lease.requested_by in alive and lease.holder else "",
                )
                for i, lease in enumerate(leases)
            ]
            decision = plan(me, seen, preferred=shard_of(me, len(leases)))
            for shard, to in decision.hand_over:
                leases[shard] = Lease(to)
            for shard in decision.acquire:
                leases[shard] = Lease(me)
            if decision.request is not None:
                leases[decision.request].requested_by = me


def assert_fair(leases: list[Lease], alive: list[str]) -> None:
    holders = Counter(lease.holder for lease in leases)
    assert set(holders) <= set(alive), holders  # every shard held, by a live controller
    counts = [holders.get(me, 0) for me in alive]
    assert max(counts) - min(counts) <= 1, holders


@settings(max_examples=200, deadline=None)
@given(
    shards=st.integers(1, 8),
    controllers=st.integers(1, 5),
    killed=st.integers(0, 4),
    seed=st.integers(0, 1000),
)
def test_controllers_converge_to_a_fair_split(shards: int, controllers: int, killed: int, seed: int) -> None:
    rng = random.Random(seed)
    names = [f"ctl-{i}" for i in range(controllers)]
    leases = [Lease() for _ in range(shards)]
    alive: list[str] = []
    for name in names:  # they start one by one
        alive.append(name)
        run_rounds(leases, alive, 1)
    run_rounds(leases, alive, shards + 2)
    assert_fair(leases, alive)
    for _ in range(min(killed, controllers - 1)):
        alive.remove(rng.choice(alive))
        run_rounds(leases, alive, shards + 2)
        assert_fair(leases, alive)

"""Logins without a cluster (finding 16 of the security review): bcrypt off the event loop and
bounded, the same cost for unknown users, throttling per name, per address and in all with
bounded memory; session lifetimes that always expire; client addresses behind trusted proxies."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from ferry.errors import ResourceExhausted
from server.accounts import BCRYPT_ROUNDS, Bcrypt, dummy_hash, hash_cost, hash_password
from server.sessions import (
    DEFAULT_SESSION_SECONDS,
    LoginThrottle,
    ThrottleLimits,
    client_address,
    peer_host,
    session_duration,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_unknown_users_are_checked_against_a_hash_of_the_real_cost() -> None:
    """A dummy hash of another cost makes unknown users measurably faster or slower than real ones."""
    assert hash_cost(dummy_hash()) == hash_cost(hash_password("a-real-password")) == BCRYPT_ROUNDS == 10


def test_bcrypt_runs_off_the_event_loop_and_refuses_beyond_its_bound() -> None:
    hashed = hash_password("the-password")

    async def scenario() -> None:
        pool = Bcrypt(workers=1, max_pending=2)
        try:
            check = asyncio.create_task(pool.check("the-password", hashed))
            await asyncio.sleep(0)
            # the loop runs on while the hash is computed in a thread (a ~60 ms computation)
            assert not check.done()
            assert pool.pending == 1
            results = await asyncio.gather(
                *(pool.check("wrong-password", hashed) for _ in range(3)), return_exceptions=True
            )
            assert await check is True
            refused = [r for r in results if isinstance(r, ResourceExhausted)]
            assert len(refused) == 2, results  # one more fitted beside the running one
            assert results.count(False) == 1
            assert pool.pending == 0
        finally:
            pool.close()

    asyncio.run(scenario())


def test_failures_of_one_name_throttle_it_until_the_window_passes() -> None:
    clock = Clock()
    throttle = LoginThrottle(ThrottleLimits(max_failures=5, window=300), clock=clock)
    for _ in range(5):
        throttle.begin("admin", "10.0.0.1")  # each counts as failed unless it succeeds
    with pytest.raises(ResourceExhausted, match="too many failed logins for 'admin'"):
        throttle.begin("admin", "10.0.0.2")
    clock.now += 301
    throttle.begin("admin", "10.0.0.2")


def test_many_names_from_one_address_are_throttled_there_only() -> None:
    throttle = LoginThrottle(ThrottleLimits(max_failures=5, max_failures_per_address=20), clock=Clock())
    for i in range(20):
        throttle.begin(f"user-{i}", "203.0.113.9")
    with pytest.raises(ResourceExhausted, match=r"too many failed logins from 203\.0\.113\.9"):
        throttle.begin("user-20", "203.0.113.9")
    with pytest.raises(ResourceExhausted):
        throttle.begin("admin", "203.0.113.9")
    throttle.begin("admin", "198.51.100.7")  # another address is not affected


def test_one_user_mistyping_from_a_shared_address_does_not_lock_the_address() -> None:
    throttle = LoginThrottle(ThrottleLimits(max_failures=5, max_failures_per_address=3), clock=Clock())
    for name in ("alice", "bob"):
        for _ in range(4):
            attempt = throttle.begin(name, "192.0.2.1")
        throttle.succeeded(name, "192.0.2.1", attempt)
    throttle.begin("carol", "192.0.2.1")


def test_attempts_running_at_once_count_before_they_finish() -> None:
    throttle = LoginThrottle(ThrottleLimits(max_failures=2), clock=Clock())
    throttle.begin("admin", "")
    throttle.begin("admin", "")
    with pytest.raises(ResourceExhausted):
        throttle.begin("admin", "")  # the two undecided attempts hold the limit


def test_an_attempt_the_server_was_too_busy_to_check_counts_for_nothing() -> None:
    throttle = LoginThrottle(ThrottleLimits(max_failures=1), clock=Clock())
    attempt = throttle.begin("admin", "192.0.2.1")
    throttle.abandon("admin", "192.0.2.1", attempt)
    throttle.begin("admin", "192.0.2.1")


def test_memory_stays_bounded_and_a_flood_of_names_keeps_the_record_of_an_attacked_account() -> None:
    clock = Clock()
    throttle = LoginThrottle(
        ThrottleLimits(max_failures=5, max_failures_per_address=20, max_tracked=1000), clock=clock
    )
    for _ in range(4):
        throttle.begin("admin", "192.0.2.50")
    for i in range(30_000):
        clock.now += 0.001
        throttle.begin(f"random-{i}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle.by_user.items) <= 1000
    assert len(throttle.by_address.items) <= 1000
    throttle.begin("admin", "192.0.2.51")  # the fifth failure: admin's four were not pushed out
    with pytest.raises(ResourceExhausted, match="'admin'"):
        throttle.begin("admin", "192.0.2.52")


@pytest.mark.parametrize(
    ("text", "seconds", "valid"),
    [
        ("", DEFAULT_SESSION_SECONDS, True),
        ("1h", 3600, True),
        ("90", 90, True),
        ("0", DEFAULT_SESSION_SECONDS, False),  # Argo CD makes sessions that never expire here
        ("0s", DEFAULT_SESSION_SECONDS, False),
        ("-5", DEFAULT_SESSION_SECONDS, False),
        ("forever", DEFAULT_SESSION_SECONDS, False),
    ],
)
def test_session_lifetime_is_always_finite(text: str, seconds: int, valid: bool) -> None:
    assert session_duration(text) == (seconds, valid)


def test_client_address_believes_only_trusted_proxies() -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    assert peer_host("ipv4:203.0.113.5:41000") == "203.0.113.5"
    assert peer_host("ipv6:[2001:db8::1]:41000") == "2001:db8::1"
    assert peer_host("unix:/tmp/socket") == ""
    # a client's own X-Forwarded-For is ignored
    assert client_address("203.0.113.5", "1.2.3.4", proxies) == "203.0.113.5"
    # through a trusted proxy: the nearest untrusted hop (what a client prepends cannot win)
    assert client_address("10.1.1.1", "1.2.3.4, 198.51.100.7", proxies) == "198.51.100.7"
    assert client_address("10.1.1.1", "198.51.100.7, 10.2.2.2", proxies) == "198.51.100.7"
    assert client_address("10.1.1.1", "", proxies) == "10.1.1.1"

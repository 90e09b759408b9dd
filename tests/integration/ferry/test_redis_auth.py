"""ferry's Redis is never open (finding 21 of the security review): the real redis-server runs
with a password (and, as make run and the deploy manifests start it, TLS only); ferry's cache
talks to it with the password and the server's certificate checked, and without them gets
nothing — a refused request is a cache miss, never an error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis
from prometheus_client import REGISTRY

from ferry.cache import RedisCache, RedisConfig
from ferry_devenv.mesh import write_certificate
from ferry_devenv.servers import RedisServer


def failed_requests(initiator: str) -> float:
    labels = {"initiator": initiator, "command": "get", "failed": "true"}
    return REGISTRY.get_sample_value("ferry_redis_request_total", labels) or 0.0


def roundtrip(config: RedisConfig, initiator: str) -> bytes | None:
    async def run() -> bytes | None:
        cache = RedisCache(config, initiator=initiator)
        try:
            await cache.set("probe", b"value", 60)
            return await cache.get("probe")
        finally:
            await cache.close()

    return asyncio.run(run())


def test_the_test_redis_refuses_clients_without_the_password(redis_server: RedisServer) -> None:
    assert redis_server.password
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(redis_server.address_url, socket_timeout=5).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(redis_server.address_url, password="wrong", socket_timeout=5).ping()
    assert redis.Redis.from_url(redis_server.url, socket_timeout=5).ping()


def test_ferry_uses_the_password_and_without_it_gets_misses(redis_server: RedisServer) -> None:
    good = RedisConfig(redis_server.address_url, password=redis_server.password)
    assert roundtrip(good, "test-good") == b"value"
    assert redis_server.password not in repr(good)
    before = failed_requests("test-nopass")
    assert roundtrip(RedisConfig(redis_server.address_url), "test-nopass") is None
    assert failed_requests("test-nopass") == before + 1


def test_redis_over_tls_checks_the_servers_certificate(tmp_path: Path) -> None:
    certs = write_certificate(tmp_path, "ferry-redis")
    other = write_certificate(tmp_path / "other", "someone-else")
    server = RedisServer(tls=certs).start()
    assert isinstance(server, RedisServer)
    try:
        assert server.address_url.startswith("rediss://")
        config = RedisConfig(server.address_url, password=server.password, ca_file=str(certs.ca))
        assert roundtrip(config, "test-tls") == b"value"
        # another CA: the server is not believed, nothing is sent
        untrusted = RedisConfig(server.address_url, password=server.password, ca_file=str(other.ca))
        assert roundtrip(untrusted, "test-untrusted") is None
        # plaintext against the TLS port: dropped
        plaintext = RedisConfig(server.address_url.replace("rediss", "redis"), password=server.password)
        assert roundtrip(plaintext, "test-plaintext") is None
    finally:
        server.stop()

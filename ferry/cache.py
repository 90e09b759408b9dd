"""The cache every process may share: Redis when configured, else a bounded in-process LRU.

Redis is a cache only. Losing it loses nothing: a Redis error is logged, counted, and answered
as a miss (reads) or ignored (writes); the caller recomputes. Values are bytes; keys are
namespaced ``ferry|v1|...`` so a format change never reads old entries.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import Counter

log = logging.getLogger(__name__)

KEY_PREFIX = "ferry|v1|"

REDIS_REQUESTS = Counter(
    "ferry_redis_request_total", "Requests to Redis.", ["initiator", "command", "failed"]
)


@dataclass(frozen=True)
class RedisConfig:
    """A Redis to use (flags in ``ferry.mesh``); the password never shows in a repr."""

    url: str
    password: str = field(default="", repr=False)
    ca_file: str = ""


class Cache(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryCache:
    """LRU bounded by entries and bytes, with per-entry expiry. Not shared between processes."""

    def __init__(self, *, max_entries: int = 20_000, max_bytes: int = 512 * 1024 * 1024) -> None:
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    async def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            await self.delete(key)
            return None
        self._data.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self.delete(key)
        self._data[key] = (time.monotonic() + ttl, value)
        self._bytes += len(value)
        while self._data and (len(self._data) > self.max_entries or self._bytes > self.max_bytes):
            _, (_, evicted) = self._data.popitem(last=False)
            self._bytes -= len(evicted)

    async def delete(self, key: str) -> None:
        item = self._data.pop(key, None)
        if item is not None:
            self._bytes -= len(item[1])

    async def close(self) -> None:
        self._data.clear()
        self._bytes = 0


class RedisCache:
    """Redis-backed cache; every failure degrades to a miss. With a password (AUTH) and, for
    ``rediss://`` URLs, TLS with the server's certificate checked."""

    def __init__(self, config: RedisConfig, *, initiator: str, timeout: float = 2.0) -> None:
        import redis.asyncio as aioredis  # noqa: PLC0415 (only processes configured with Redis load it)

        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if config.password:
            options["password"] = config.password
        if config.url.startswith("rediss://"):
            options["ssl_cert_reqs"] = "required"
            if config.ca_file:
                options["ssl_ca_certs"] = config.ca_file
        self._client = aioredis.Redis.from_url(config.url, **options)
        self._initiator = initiator
        self._warned_at = 0.0

    def _failed(self, command: str, err: Exception) -> None:
        REDIS_REQUESTS.labels(self._initiator, command, "true").inc()
        now = time.monotonic()
        if now - self._warned_at > 30:  # one warning per 30 s, not one per request
            self._warned_at = now
            log.warning("redis unavailable; continuing without the shared cache", extra={"error": str(err)})

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(KEY_PREFIX + key)
        except (TimeoutError, OSError, Exception) as err:
            self._failed("get", err)
            return None
        REDIS_REQUESTS.labels(self._initiator, "get", "false").inc()
        if value is None:
            return None
        return value.encode() if isinstance(value, str) else bytes(value)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self._client.set(KEY_PREFIX + key, value, px=max(1, int(ttl * 1000)))
        except Exception as err:
            self._failed("set", err)
            return
        REDIS_REQUESTS.labels(self._initiator, "set", "false").inc()

    async def delete(self, key: str) -> None:
        try:
            await self._client.delete(KEY_PREFIX + key)
        except Exception as err:
            self._failed("del", err)

    async def close(self) -> None:
        await self._client.aclose()


def make_cache(redis: RedisConfig | None, *, initiator: str) -> Cache:
    return RedisCache(redis, initiator=initiator) if redis is not None else MemoryCache()

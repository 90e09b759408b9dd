"""A keyed work queue: each key is processed by one worker at a time, duplicates collapse, and a
key added while it is being processed runs again afterwards. Requests carry a refresh level; when
they collapse, the strongest wins (hard > latest > recent).

Waiting is never done by a worker: delayed work (``add_after``) is a timer that adds the key
when it fires.
"""

from __future__ import annotations

import asyncio
from enum import IntEnum


class Refresh(IntEnum):
    RECENT = 1  # a live object changed: compare again with the manifests already rendered
    LATEST = 2  # spec change, periodic refresh, normal refresh: ask the repo server
    HARD = 3  # hard refresh: bypass every cache


class WorkQueue:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._pending: dict[str, Refresh] = {}
        self._processing: set[str] = set()
        self._again: dict[str, Refresh] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def add(self, key: str, level: Refresh = Refresh.LATEST) -> None:
        if key in self._processing:
            self._again[key] = max(level, self._again.get(key, level))
        elif key in self._pending:
            self._pending[key] = max(level, self._pending[key])
        else:
            self._pending[key] = level
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float, level: Refresh = Refresh.LATEST, *, slot: str = "") -> None:
        """Adds ``key`` after ``delay`` seconds. One timer per (key, slot): a later call for the same
        slot replaces it (the periodic refresh and a self-heal backoff use different slots)."""
        timer = self._timers.pop((key, slot), None)
        if timer is not None:
            timer.cancel()
        self._timers[(key, slot)] = asyncio.get_running_loop().call_later(delay, self._fire, key, level, slot)

    def _fire(self, key: str, level: Refresh, slot: str) -> None:
        self._timers.pop((key, slot), None)
        self.add(key, level)

    def forget(self, key: str) -> None:
        for timer_key in [k for k in self._timers if k[0] == key]:
            self._timers.pop(timer_key).cancel()

    async def get(self) -> tuple[str, Refresh]:
        while True:
            key = await self._queue.get()
            level = self._pending.pop(key, None)
            if level is not None:
                self._processing.add(key)
                return key, level

    def done(self, key: str) -> None:
        self._processing.discard(key)
        again = self._again.pop(key, None)
        if again is not None:
            self.add(key, again)

    def __len__(self) -> int:
        return len(self._pending)

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ferry.gotemplate import gotime


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The vectors were recorded with TZ=UTC; Go's time.Local follows TZ, so does ferry's."""
    monkeypatch.setenv("TZ", "UTC")
    gotime.local.cache_clear()
    yield
    gotime.local.cache_clear()

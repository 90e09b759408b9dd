"""A refresh request carries when it was asked for; garbled or missing times mean "unknown"."""

from __future__ import annotations

import time

from ferry.settings import (
    REFRESH_ANNOTATION,
    REFRESH_REQUESTED_AT_ANNOTATION,
    refresh_annotations,
    refresh_requested_at_ms,
)


def test_a_request_says_its_level_and_when() -> None:
    before = int(time.time() * 1000)
    annotations = refresh_annotations("hard")
    after = int(time.time() * 1000)
    assert annotations[REFRESH_ANNOTATION] == "hard"
    assert before <= refresh_requested_at_ms(annotations) <= after


def test_unknown_times_are_zero() -> None:
    assert refresh_requested_at_ms({REFRESH_ANNOTATION: "normal"}) == 0  # kubectl annotate, Argo CD style
    for garbled in ("", "-5", "1.5", "yesterday"):
        assert refresh_requested_at_ms({REFRESH_REQUESTED_AT_ANNOTATION: garbled}) == 0

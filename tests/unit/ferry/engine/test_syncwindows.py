"""Sync windows at explicit times: which windows apply, which are open, Argo CD's precedence,
manualSync, time zones and the next edge. No clock is read: every time is given."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ferry.engine.syncwindows import (
    Destination,
    SyncWindow,
    SyncWindowError,
    evaluate,
    parse_go_duration,
    window_problems,
)

UTC = datetime.UTC
APP = Destination(app="guestbook", namespace="prod", server="https://prod.example:6443", cluster_name="prod")


def at(hour: int, minute: int = 0, day: int = 8) -> datetime.datetime:
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def window(kind: str, schedule: str = "0 22 * * *", duration: str = "1h", **extra: object) -> dict[str, Any]:
    return {"kind": kind, "schedule": schedule, "duration": duration, "applications": ["*"], **extra}


# --- parsing and validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", datetime.timedelta(hours=1)),
        ("30m", datetime.timedelta(minutes=30)),
        ("1h30m", datetime.timedelta(hours=1, minutes=30)),
        ("1.5h", datetime.timedelta(hours=1, minutes=30)),
        ("90s", datetime.timedelta(seconds=90)),
        ("250ms", datetime.timedelta(milliseconds=250)),
    ],
)
def test_durations_read_as_go_reads_them(text: str, expected: datetime.timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize("text", ["", "3600", "1d", "1h 30m", "h"])
def test_durations_go_refuses_are_refused(text: str) -> None:
    with pytest.raises(SyncWindowError):
        parse_go_duration(text)


def test_window_problems_name_the_window_and_the_fix() -> None:
    problems = window_problems(
        [
            window("allow"),
            window("maybe"),
            window("deny", schedule="0 25 * * *"),
            window("deny", schedule="@daily"),
            window("deny", duration="forever"),
            window("deny", duration="0"),
            window("deny", timeZone="Mars/Olympus"),
        ]
    )
    assert problems == [
        "spec.syncWindows[1]: kind 'maybe' mismatch: can only be allow or deny",
        "spec.syncWindows[2]: cannot parse schedule '0 25 * * *': give five cron fields, minute hour "
        "day-of-month month day-of-week (e.g. '0 22 * * *')",
        "spec.syncWindows[3]: cannot parse schedule '@daily': give five cron fields, minute hour "
        "day-of-month month day-of-week (e.g. '0 22 * * *')",
        "spec.syncWindows[4]: cannot parse duration 'forever': use a number with a unit, e.g. 1h, 30m, "
        "1h30m, 90s",
        "spec.syncWindows[5]: duration '0' must be longer than zero (e.g. 1h)",
        "spec.syncWindows[6]: unknown time zone 'Mars/Olympus': use an IANA name such as UTC or "
        "Europe/Amsterdam",
    ]


# --- matching -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selectors", "matches"),
    [
        ({"applications": ["guest*"]}, True),
        ({"applications": ["other"]}, False),
        ({"namespaces": ["pr?d"]}, True),
        ({"namespaces": ["staging"]}, False),
        ({"clusters": ["prod"]}, True),  # the destination's cluster name
        ({"clusters": ["https://prod.*"]}, True),  # or its server URL
        ({"clusters": ["staging"]}, False),
        ({"applications": ["other"], "namespaces": ["prod"]}, True),  # any selector (OR)
        ({"applications": ["other"], "namespaces": ["prod"], "andOperator": True}, False),
        ({"applications": ["guest*"], "namespaces": ["prod"], "andOperator": True}, True),
        ({}, False),  # a window that lists nothing applies to nothing
    ],
)
def test_which_windows_apply_to_an_app(selectors: dict[str, object], matches: bool) -> None:
    entry = {"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", **selectors}
    assert SyncWindow.parse(0, entry).matches(APP) is matches


# --- open or closed -------------------------------------------------------------------------------


def test_a_window_is_open_from_its_start_for_its_duration() -> None:
    w = SyncWindow.parse(0, window("deny", "0 22 * * *", "1h"))
    assert not w.active(at(21, 59))
    assert w.active(at(22, 0))  # the start counts
    assert w.active(at(22, 59))
    assert not w.active(at(23, 0))  # the end does not


def test_a_window_spanning_midnight_is_open_the_next_morning() -> None:
    w = SyncWindow.parse(0, window("deny", "0 22 * * *", "10h"))
    assert w.active(at(7, 59, day=9))
    assert not w.active(at(8, 0, day=9))


def test_the_schedule_is_read_in_the_windows_time_zone() -> None:
    # 22:00 in Amsterdam is 21:00 UTC in December (CET, UTC+1)
    w = SyncWindow.parse(0, window("deny", "0 22 * * *", "1h", timeZone="Europe/Amsterdam"))
    assert w.active(at(21, 0))
    assert not w.active(at(22, 0))
    # and 20:00 UTC in July (CEST, UTC+2): daylight saving time follows the zone
    july = datetime.datetime(2026, 7, 8, 20, 30, tzinfo=UTC)
    assert w.active(july)


# --- precedence -----------------------------------------------------------------------------------


def test_no_matching_window_allows_every_sync() -> None:
    state = evaluate([window("deny", applications=["other"])], APP, at(22, 30))
    assert state.can_sync(manual=False)
    assert state.can_sync(manual=True)
    assert state.next_change is None
    assert state.summary == "Sync Allowed"


def test_an_active_deny_window_blocks_and_is_named() -> None:
    state = evaluate([window("deny")], APP, at(22, 30))
    assert not state.can_sync(manual=False)
    assert not state.can_sync(manual=True)
    assert state.reason(manual=False) == "deny:0 22 * * *:1h"
    assert state.summary == "Sync Denied"


def test_an_inactive_deny_window_does_not_block() -> None:
    assert evaluate([window("deny")], APP, at(12)).can_sync(manual=False)


def test_allow_windows_allow_only_while_one_is_open() -> None:
    windows = [window("allow", "0 9 * * *", "8h")]
    assert evaluate(windows, APP, at(10)).can_sync(manual=False)
    closed = evaluate(windows, APP, at(18))
    assert not closed.can_sync(manual=False)
    assert closed.reason(manual=False) == "allow:0 9 * * *:8h"


def test_one_open_allow_window_is_enough_among_several() -> None:
    windows = [window("allow", "0 9 * * *", "1h"), window("allow", "0 14 * * *", "1h")]
    assert evaluate(windows, APP, at(14, 30)).can_sync(manual=False)


def test_deny_wins_over_an_open_allow_window() -> None:
    windows = [window("allow", "0 20 * * *", "4h"), window("deny", "0 22 * * *", "1h")]
    assert evaluate(windows, APP, at(21)).can_sync(manual=False)
    state = evaluate(windows, APP, at(22, 30))
    assert not state.can_sync(manual=False)
    assert state.reason(manual=False) == "deny:0 22 * * *:1h"


# --- manualSync -----------------------------------------------------------------------------------


def test_manual_sync_passes_a_deny_window_that_allows_it_automation_does_not() -> None:
    state = evaluate([window("deny", manualSync=True)], APP, at(22, 30))
    assert state.can_sync(manual=True)
    assert not state.can_sync(manual=False)
    assert state.summary == "Manual Allowed"


def test_manual_sync_needs_every_active_deny_window_to_allow_it() -> None:
    windows = [window("deny", manualSync=True), window("deny", "30 22 * * *", "1h")]
    state = evaluate(windows, APP, at(22, 45))
    assert not state.can_sync(manual=True)
    assert state.reason(manual=True) == "deny:0 22 * * *:1h, deny:30 22 * * *:1h"


def test_manual_sync_outside_allow_windows_needs_manual_sync_on_each() -> None:
    allowing = [window("allow", "0 9 * * *", "1h", manualSync=True)]
    assert evaluate(allowing, APP, at(18)).can_sync(manual=True)
    mixed = [*allowing, window("allow", "0 14 * * *", "1h")]
    assert not evaluate(mixed, APP, at(18)).can_sync(manual=True)


def test_a_window_written_around_the_api_that_cannot_be_read_blocks_its_apps() -> None:
    state = evaluate([window("deny", schedule="not cron")], APP, at(12))
    assert not state.can_sync(manual=True)
    assert state.reason(manual=True).startswith("sync window 0 is invalid: cannot parse schedule")
    other = evaluate([window("deny", schedule="not cron", applications=["other"])], APP, at(12))
    assert other.can_sync(manual=False)


# --- next edge ------------------------------------------------------------------------------------


def utc(day: tuple[int, int], hour: int, minute: int) -> datetime.datetime:
    return datetime.datetime(2026, *day, hour, minute, tzinfo=UTC)


def test_when_clocks_go_back_a_time_that_happens_twice_opens_the_window_twice() -> None:
    # Amsterdam, 2026-10-25: 02:30 local is 00:30 UTC (CEST) and again 01:30 UTC (CET)
    w = SyncWindow.parse(0, window("deny", "30 2 * * *", "30m", timeZone="Europe/Amsterdam"))
    back = (10, 25)
    assert w.active(utc(back, 0, 45))
    assert w.next_change(utc(back, 0, 45)) == utc(back, 1, 0)  # 03:00 CEST, not 03:00 CET
    assert not w.active(utc(back, 1, 15))
    assert w.next_change(utc(back, 1, 15)) == utc(back, 1, 30)
    assert w.active(utc(back, 1, 45))
    assert w.next_change(utc(back, 1, 45)) == utc(back, 2, 0)


def test_when_clocks_go_forward_a_time_that_never_happens_opens_the_window_after_the_gap() -> None:
    # Amsterdam, 2026-03-29: 02:00-03:00 local does not exist; 02:30 opens at 03:00 CEST (01:00 UTC)
    w = SyncWindow.parse(0, window("deny", "30 2 * * *", "1h", timeZone="Europe/Amsterdam"))
    forward = (3, 29)
    assert w.next_change(utc(forward, 0, 0)) == utc(forward, 1, 0)
    assert w.active(utc(forward, 1, 30))


def test_next_change_is_the_next_opening_of_a_closed_window() -> None:
    assert evaluate([window("deny")], APP, at(12)).next_change == at(22)


def test_next_change_is_the_closing_of_an_open_window() -> None:
    assert evaluate([window("deny")], APP, at(22, 15)).next_change == at(23)


def test_next_change_is_the_earliest_edge_of_the_matching_windows() -> None:
    windows = [
        window("allow", "0 9 * * *", "8h"),
        window("deny", "0 12 * * *", "30m"),
        window("deny", "0 11 * * *", "1h", applications=["other"]),  # not this app's
    ]
    assert evaluate(windows, APP, at(10)).next_change == at(12)
    assert evaluate(windows, APP, at(12, 10)).next_change == at(12, 30)
    assert evaluate(windows, APP, at(13)).next_change == at(17)


def test_next_change_in_the_windows_time_zone() -> None:
    state = evaluate([window("deny", timeZone="America/New_York")], APP, at(12))
    assert state.next_change == datetime.datetime(2026, 12, 9, 3, 0, tzinfo=UTC)  # 22:00 EST


def test_overlapping_occurrences_keep_a_window_open_until_the_last_one_ends() -> None:
    # every 30 minutes for 45 minutes, from 10:00 to 11:30: open without a gap until 12:15
    w = SyncWindow.parse(0, window("deny", "0,30 10,11 * * *", "45m"))
    assert w.next_change(at(10, 5)) == at(12, 15)


def test_a_window_that_never_closes_reports_a_time_it_stays_open_until() -> None:
    w = SyncWindow.parse(0, window("deny", "* * * * *", "1h"))
    edge = w.next_change(at(10))
    assert edge > at(10) + datetime.timedelta(hours=24)  # far ahead, and no change before it
    assert w.active(edge - datetime.timedelta(minutes=1))


# --- properties ------------------------------------------------------------------------------------

SCHEDULES = ["* * * * *", "0 22 * * *", "30 2 * * *", "0,30 9-17 * * 1-5", "15 */6 * * *", "0 0 1 * *"]
DURATIONS = ["1m", "45m", "1h", "90m", "8h", "24h", "50h"]
ZONES = ["UTC", "Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]


# days on which clocks change in these zones (2026), so that examples land around the changes too
CLOCK_CHANGES = [(3, 8), (3, 29), (4, 5), (10, 4), (10, 25), (11, 1)]


@given(
    schedule=st.sampled_from(SCHEDULES),
    duration=st.sampled_from(DURATIONS),
    zone=st.sampled_from(ZONES),
    day=st.one_of(st.sampled_from(CLOCK_CHANGES), st.tuples(st.integers(1, 12), st.integers(1, 28))),
    seconds=st.integers(-24 * 3600, 48 * 3600),
)
@settings(max_examples=400, deadline=None)
def test_nothing_changes_before_the_next_change(
    schedule: str, duration: str, zone: str, day: tuple[int, int], seconds: int
) -> None:
    w = SyncWindow.parse(0, window("deny", schedule, duration, timeZone=zone))
    t = datetime.datetime(2026, *day, tzinfo=UTC) + datetime.timedelta(seconds=seconds)
    edge = w.next_change(t)
    assert edge > t
    before = w.active(t)
    for probe in (t + (edge - t) / 2, edge - datetime.timedelta(microseconds=1)):
        assert w.active(probe) is before, (t, probe, edge)
    if not before:
        assert w.active(edge)  # a closed window's next change is its opening

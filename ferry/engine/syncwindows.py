"""Sync windows: when an AppProject lets its applications sync (Argo CD's ``spec.syncWindows``).

A window is ``allow`` or ``deny``, opens at each time its cron ``schedule`` fires (five fields,
evaluated in its ``timeZone``, UTC by default) and stays open for ``duration`` (Go syntax: ``1h``,
``30m``, ``1h30m``). It applies to the apps whose name, destination namespace or destination
cluster (server URL or name) match one of its ``applications``, ``namespaces`` or ``clusters``
globs — any one of them, or every listed one with ``andOperator``.

Argo CD's precedence, over the windows that match an app:

- no matching window: every sync may run;
- an active ``deny`` window blocks, unless the sync is manual and every active deny window has
  ``manualSync``;
- otherwise an active ``allow`` window lets it run;
- otherwise matching ``allow`` windows that are all inactive block, unless the sync is manual and
  each of them has ``manualSync``.

Everything here is pure: the time is an argument, nothing reads a clock or does I/O. Besides the
verdict, ``evaluate`` gives the next time a matching window opens or closes, so a caller can look
again exactly then instead of polling.
"""

from __future__ import annotations

import datetime
import fnmatch
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from croniter import croniter

# How many times the end of an active window may be pushed back by the overlapping occurrences
# that follow it before next_change gives up and returns how far it got (a time before which
# nothing changes: looking again then is safe). "* * * * *" for 1h is open for good.
_MAX_EXTENSIONS = 64


class SyncWindowError(ValueError):
    """A window the API refuses: its kind, schedule, duration or time zone cannot be used."""


class WindowKind(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


_GO_UNITS = {
    "ns": datetime.timedelta(microseconds=0.001),
    "us": datetime.timedelta(microseconds=1),
    "µs": datetime.timedelta(microseconds=1),
    "μs": datetime.timedelta(microseconds=1),
    "ms": datetime.timedelta(milliseconds=1),
    "s": datetime.timedelta(seconds=1),
    "m": datetime.timedelta(minutes=1),
    "h": datetime.timedelta(hours=1),
}
_GO_TERM = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> datetime.timedelta:
    """A duration as Go's ``time.ParseDuration`` reads it (what Argo CD uses for ``duration``):
    decimal numbers each with a unit, ``h``, ``m``, ``s``, ``ms``, ``us``, ``ns``."""
    rest = text.strip()
    if not rest:
        raise SyncWindowError("duration is required (e.g. 1h, 30m, 1h30m)")
    sign = -1 if rest.startswith("-") else 1
    rest = rest.lstrip("+-")
    if rest == "0":
        return datetime.timedelta(0)
    total = datetime.timedelta(0)
    position = 0
    while position < len(rest):
        match = _GO_TERM.match(rest, position)
        if match is None:
            raise SyncWindowError(
                f"cannot parse duration {text!r}: use a number with a unit, e.g. 1h, 30m, 1h30m, 90s"
            )
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        position = match.end()
    return sign * total


def _check_schedule(schedule: str) -> None:
    # Argo CD's parser takes exactly the five standard fields (no seconds, no @daily)
    if len(schedule.split()) != 5 or not croniter.is_valid(schedule):
        raise SyncWindowError(
            f"cannot parse schedule {schedule!r}: give five cron fields, minute hour day-of-month "
            "month day-of-week (e.g. '0 22 * * *')"
        )


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SyncWindowError(
            f"unknown time zone {name!r}: use an IANA name such as UTC or Europe/Amsterdam"
        ) from None


def _globs(entry: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(v) for v in entry.get(key) or () if v)


@dataclass(frozen=True)
class Destination:
    """What a window is matched against: the app's name and its destination."""

    app: str
    namespace: str = ""
    server: str = ""
    cluster_name: str = ""


@dataclass(frozen=True)
class SyncWindow:
    """One entry of ``spec.syncWindows``; ``index`` is its position there (the CLI's ID)."""

    index: int
    kind: WindowKind
    schedule: str
    duration_text: str
    duration: datetime.timedelta
    applications: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    manual_sync: bool = False
    time_zone: str = "UTC"
    and_operator: bool = False
    description: str = ""

    @classmethod
    def parse(cls, index: int, entry: Mapping[str, Any]) -> SyncWindow:
        """The window at ``spec.syncWindows[index]``; SyncWindowError names what is wrong."""
        try:
            kind = WindowKind(str(entry.get("kind") or ""))
        except ValueError:
            raise SyncWindowError(f"kind {entry.get('kind')!r} mismatch: can only be allow or deny") from None
        schedule = str(entry.get("schedule") or "").strip()
        _check_schedule(schedule)
        duration_text = str(entry.get("duration") or "")
        duration = parse_go_duration(duration_text)
        if duration <= datetime.timedelta(0):
            raise SyncWindowError(f"duration {duration_text!r} must be longer than zero (e.g. 1h)")
        time_zone = str(entry.get("timeZone") or "UTC")
        _zone(time_zone)
        return cls(
            index=index,
            kind=kind,
            schedule=schedule,
            duration_text=duration_text,
            duration=duration,
            applications=_globs(entry, "applications"),
            namespaces=_globs(entry, "namespaces"),
            clusters=_globs(entry, "clusters"),
            manual_sync=bool(entry.get("manualSync")),
            time_zone=time_zone,
            and_operator=bool(entry.get("andOperator")),
            description=str(entry.get("description") or ""),
        )

    @property
    def label(self) -> str:
        """``kind:schedule:duration``, as Argo CD lists an app's assigned windows."""
        return f"{self.kind}:{self.schedule}:{self.duration_text}"

    def matches(self, dest: Destination) -> bool:
        return _selects(self.applications, self.namespaces, self.clusters, self.and_operator, dest)

    def _local(self, at: datetime.datetime) -> datetime.datetime:
        return _aware(at).astimezone(_zone(self.time_zone))

    def last_start(self, at: datetime.datetime) -> datetime.datetime:
        """The latest time at or before ``at`` the schedule fired (in UTC)."""
        # croniter's get_prev is strictly before its start: start a microsecond later so a
        # window that opens exactly at ``at`` counts (added before going local: local arithmetic
        # drops the fold of a repeated hour when clocks go back)
        start: datetime.datetime = croniter(
            self.schedule, self._local(at + datetime.timedelta(microseconds=1))
        ).get_prev(datetime.datetime)
        return start.astimezone(datetime.UTC)  # arithmetic in UTC: local time would lose the fold

    def next_start(self, at: datetime.datetime) -> datetime.datetime:
        """The first time strictly after ``at`` the schedule fires (in UTC)."""
        start: datetime.datetime = croniter(self.schedule, self._local(at)).get_next(datetime.datetime)
        return start.astimezone(datetime.UTC)

    def active(self, at: datetime.datetime) -> bool:
        """Open at ``at``: the schedule fired at most ``duration`` before (start included, end not)."""
        return _aware(at) < self.last_start(at) + self.duration

    def next_change(self, at: datetime.datetime) -> datetime.datetime:
        """When the window next opens (if closed at ``at``) or closes (if open). For a window that
        overlapping occurrences keep open, the time it is known to stay open until, at least."""
        if not self.active(at):
            return self.next_start(at)
        end = self.last_start(at) + self.duration
        for _ in range(_MAX_EXTENSIONS):
            latest = self.last_start(end)  # an occurrence starting by the end keeps it open
            if latest + self.duration <= end:
                break
            end = latest + self.duration
        return end


def _selects(
    applications: Sequence[str],
    namespaces: Sequence[str],
    clusters: Sequence[str],
    and_operator: bool,
    dest: Destination,
) -> bool:
    """Whether a window's selectors pick the app: one listed selector matching is enough, or
    every listed one with andOperator; a window that lists none applies to no app."""
    results = []
    if applications:
        results.append(any(fnmatch.fnmatchcase(dest.app, g) for g in applications))
    if namespaces:
        results.append(any(fnmatch.fnmatchcase(dest.namespace, g) for g in namespaces))
    if clusters:
        results.append(
            any(
                bool(dest.server and fnmatch.fnmatchcase(dest.server, g))
                or bool(dest.cluster_name and fnmatch.fnmatchcase(dest.cluster_name, g))
                for g in clusters
            )
        )
    if not results:
        return False
    return all(results) if and_operator else any(results)


def _aware(at: datetime.datetime) -> datetime.datetime:
    if at.tzinfo is None:
        raise ValueError("sync windows need an aware datetime (with a time zone)")
    return at


def window_problems(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """What the API refuses in ``spec.syncWindows``, one line per window."""
    problems = []
    for index, entry in enumerate(entries):
        try:
            SyncWindow.parse(index, entry)
        except SyncWindowError as err:
            problems.append(f"spec.syncWindows[{index}]: {err}")
    return problems


@dataclass(frozen=True)
class WindowState:
    """The verdict of an app's sync windows at one time."""

    matching: tuple[SyncWindow, ...]
    active: tuple[SyncWindow, ...]
    # the windows that block an automated sync, and those that block a manual one (a subset)
    blocking_auto: tuple[SyncWindow, ...]
    blocking_manual: tuple[SyncWindow, ...]
    # matching windows that could not be parsed (written around the API): they block every sync
    invalid: tuple[str, ...]
    next_change: datetime.datetime | None

    def can_sync(self, *, manual: bool) -> bool:
        return not self.invalid and not (self.blocking_manual if manual else self.blocking_auto)

    def reason(self, *, manual: bool) -> str:
        """Which windows block (empty when the sync may run): ``deny:0 22 * * *:1h, ...``."""
        if self.invalid:
            return "; ".join(self.invalid)
        return ", ".join(w.label for w in (self.blocking_manual if manual else self.blocking_auto))

    @property
    def summary(self) -> str:
        """Argo CD's words for the state: Sync Allowed, Manual Allowed or Sync Denied."""
        if self.can_sync(manual=False):
            return "Sync Allowed"
        return "Manual Allowed" if self.can_sync(manual=True) else "Sync Denied"


def _blocking(matching: Sequence[SyncWindow], at: datetime.datetime, *, manual: bool) -> list[SyncWindow]:
    active = [w for w in matching if w.active(at)]
    denies = [w for w in active if w.kind is WindowKind.DENY]
    if denies:
        return [] if manual and all(w.manual_sync for w in denies) else denies
    if any(w.kind is WindowKind.ALLOW for w in active):
        return []
    closed_allows = [w for w in matching if w.kind is WindowKind.ALLOW]
    if closed_allows and not (manual and all(w.manual_sync for w in closed_allows)):
        return closed_allows
    return []


def evaluate(entries: Iterable[Mapping[str, Any]], dest: Destination, at: datetime.datetime) -> WindowState:
    """The state of the windows in ``entries`` (``spec.syncWindows``) for one app at ``at``."""
    windows: list[SyncWindow] = []
    invalid: list[str] = []
    for index, entry in enumerate(entries):
        try:
            window = SyncWindow.parse(index, entry)
        except SyncWindowError as err:
            selected = _selects(
                _globs(entry, "applications"),
                _globs(entry, "namespaces"),
                _globs(entry, "clusters"),
                bool(entry.get("andOperator")),
                dest,
            )
            if selected:  # fail closed: a window that cannot be read might have been a deny
                invalid.append(f"sync window {index} is invalid: {err}")
            continue
        windows.append(window)
    matching = [w for w in windows if w.matches(dest)]
    return WindowState(
        matching=tuple(matching),
        active=tuple(w for w in matching if w.active(at)),
        blocking_auto=tuple(_blocking(matching, at, manual=False)),
        blocking_manual=tuple(_blocking(matching, at, manual=True)),
        invalid=tuple(invalid),
        next_change=min((w.next_change(at) for w in matching), default=None),
    )


def destination_of(app: Mapping[str, Any]) -> Destination:
    """The matching key of an Application (its name and ``spec.destination``)."""
    dest = (app.get("spec") or {}).get("destination") or {}
    return Destination(
        app=str((app.get("metadata") or {}).get("name") or ""),
        namespace=str(dest.get("namespace") or ""),
        server=str(dest.get("server") or ""),
        cluster_name=str(dest.get("name") or ""),
    )


def project_windows(project: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return list(((project or {}).get("spec") or {}).get("syncWindows") or [])

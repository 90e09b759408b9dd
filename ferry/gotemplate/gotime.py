"""Go's ``time`` package as templates and trigger conditions use it: ``time.Time`` with its methods,
``time.Duration``, layouts (``2006-01-02T15:04:05Z07:00``) for Format and Parse, ParseDuration.

Times are exact to the nanosecond (``unix`` seconds + ``nsec``) in a :class:`Location` (UTC, Local —
the process's ``TZ`` —, an IANA zone, or a fixed offset from parsing). The monotonic clock reading
Go prints for ``time.Now()`` (``m=+0.01``) is not kept.
"""

from __future__ import annotations

import datetime
import os
import re
import time as _time
import zoneinfo
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ferry.gotemplate.errors import FuncError
from ferry.gotemplate.values import (
    BOOL,
    DURATION,
    FLOAT64,
    INT,
    INT64,
    STRING,
    TIME,
    GoFunc,
    GoInt,
    GoObject,
    GoType,
    Signature,
)

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Location:
    name: str  # "UTC", "Local", "Europe/Paris", "" (a fixed zone from parsing)
    tz: datetime.tzinfo
    fixed_abbrev: str | None = None  # the zone name of a fixed zone ("" prints as the offset)


UTC = Location("UTC", datetime.UTC)


@lru_cache(maxsize=1)
def local() -> Location:
    """Go's time.Local: TZ when set ("" or "UTC" is UTC), else /etc/localtime, else UTC."""
    tz_name = os.environ.get("TZ")
    if tz_name is not None:
        if tz_name in ("", "UTC"):
            return Location("Local", datetime.UTC, "UTC")
        try:
            return Location("Local", zoneinfo.ZoneInfo(tz_name.removeprefix(":")))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return Location("Local", datetime.UTC, "UTC")
    try:
        with open("/etc/localtime", "rb") as fh:
            return Location("Local", zoneinfo.ZoneInfo.from_file(fh, key="Local"))
    except OSError:
        return Location("Local", datetime.UTC, "UTC")


def load_location(name: str) -> Location:
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return local()
    if not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", name):
        raise ValueError(f"unknown time zone {name}")
    try:
        return Location(name, zoneinfo.ZoneInfo(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name}") from None


class Duration(int, GoObject):
    """time.Duration: nanoseconds."""

    go_type = DURATION

    def go_string(self) -> str:
        return duration_string(int(self))

    def go_type_name(self) -> str:
        return "time.Duration"


def duration_string(d: int) -> str:
    """Duration.String: 72h3m0.5s, 1.5µs, 0s."""
    if d == 0:
        return "0s"
    neg = d < 0
    u = -d if neg else d
    if u < SECOND:
        if u < MICROSECOND:
            text = f"{u}ns"
        elif u < MILLISECOND:
            text = _frac(u, 3) + "µs"
        else:
            text = _frac(u, 6) + "ms"
    else:
        secs_text = _frac(u % MINUTE, 9) + "s"
        minutes = u // MINUTE
        text = secs_text
        if minutes:
            hours = minutes // 60
            text = f"{minutes % 60}m" + text
            if hours:
                text = f"{hours}h" + text
    return ("-" if neg else "") + text


def _frac(value: int, prec: int) -> str:
    whole, frac = divmod(value, 10**prec)
    frac_text = f"{frac:0{prec}d}".rstrip("0")
    return f"{whole}" + (f".{frac_text}" if frac_text else "")


_UNITS = {"ns": 1, "us": MICROSECOND, "µs": MICROSECOND, "μs": MICROSECOND, "ms": MILLISECOND}
_UNITS |= {"s": SECOND, "m": MINUTE, "h": HOUR}


def parse_duration(text: str) -> Duration:
    """time.ParseDuration; ValueError with Go's message."""
    orig = text
    neg = False
    if text[:1] in ("-", "+"):
        neg = text[0] == "-"
        text = text[1:]
    if text == "0":
        return Duration(0)
    if not text:
        raise ValueError(f'time: invalid duration "{orig}"')
    total = 0.0
    total_ns = 0
    pattern = re.compile(r"(\d*)(\.(\d*))?([a-zµμ]+)")
    pos = 0
    while pos < len(text):
        match = pattern.match(text, pos)
        if not match or (not match.group(1) and not match.group(3)):
            raise ValueError(f'time: invalid duration "{orig}"')
        unit = _UNITS.get(match.group(4))
        if unit is None:
            if not match.group(4):
                raise ValueError(f'time: missing unit in duration "{orig}"')
            raise ValueError(f'time: unknown unit "{match.group(4)}" in duration "{orig}"')
        whole = int(match.group(1) or "0")
        frac = match.group(3) or ""
        total_ns += whole * unit
        if frac:
            total += int(frac) * unit / 10 ** len(frac)
        pos = match.end()
    result = total_ns + int(total)
    if result > (1 << 63) - 1:
        raise ValueError(f'time: invalid duration "{orig}"')
    return Duration(-result if neg else result)


class Month(int, GoObject):
    go_type = GoType("time.Month", "int")

    def go_string(self) -> str:
        return _LONG_MONTHS[int(self) - 1] if 1 <= self <= 12 else f"%!Month({int(self)})"


class Weekday(int, GoObject):
    go_type = GoType("time.Weekday", "int")

    def go_string(self) -> str:
        return _LONG_DAYS[int(self)] if 0 <= self <= 6 else f"%!Weekday({int(self)})"


_LONG_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_LONG_DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


class GoTime(GoObject):
    """time.Time."""

    go_type = TIME
    __slots__ = ("loc", "nsec", "unix")

    def __init__(self, unix: int, nsec: int = 0, loc: Location = UTC) -> None:
        extra, nsec = divmod(nsec, SECOND)
        self.unix = unix + extra
        self.nsec = nsec
        self.loc = loc

    @staticmethod
    def now() -> GoTime:
        ns = _time.time_ns()
        return GoTime(ns // SECOND, ns % SECOND, local())

    @staticmethod
    def zero() -> GoTime:
        return GoTime(-62135596800, 0, UTC)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, GoTime)
            and (self.unix, self.nsec) == (other.unix, other.nsec)
            and self.loc == other.loc
        )

    def __hash__(self) -> int:
        return hash((self.unix, self.nsec))

    def instant(self) -> int:
        return self.unix * SECOND + self.nsec

    def civil(self) -> datetime.datetime:
        try:
            return (_EPOCH + datetime.timedelta(seconds=self.unix)).astimezone(self.loc.tz)
        except OverflowError:
            raise FuncError("time out of the supported range (years 1-9999)") from None

    def offset_and_abbrev(self) -> tuple[int, str]:
        civil = self.civil()
        offset = int((civil.utcoffset() or datetime.timedelta()).total_seconds())
        if self.loc.fixed_abbrev is not None:
            return offset, self.loc.fixed_abbrev
        if self.loc.tz is datetime.UTC:
            return 0, "UTC"
        return offset, civil.tzname() or ""

    def go_string(self) -> str:
        return self.format("2006-01-02 15:04:05.999999999 -0700 MST")

    def format(self, layout: str) -> str:
        return format_time(self, layout)

    def in_location(self, loc: Location) -> GoTime:
        return GoTime(self.unix, self.nsec, loc)

    def is_zero(self) -> bool:
        return self.unix == -62135596800 and self.nsec == 0


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


# --- formatting --------------------------------------------------------------------------------------

_STD_CHUNK = re.compile(
    r"January|Jan(?![a-z])|Monday|Mon(?![a-z])|MST|0[1-6]|002|15|1|2006|2|_2006|__2|_2|3|4|5|PM|pm"
    r"|-070000|-07:00:00|-0700|-07:00|-07|Z070000|Z07:00:00|Z0700|Z07:00|Z07|[.,](0+|9+)(?!\d)"
)


def _chunks(layout: str) -> list[tuple[str, str]]:
    """Splits a layout into (literal, std) pairs like nextStdChunk; std is "" for the tail."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(layout):
        match = _STD_CHUNK.search(layout, pos)
        if match is None:
            out.append((layout[pos:], ""))
            break
        std = match.group(0)
        start = match.start()
        if std == "_2006":  # a literal "_" then the year
            out.append((layout[pos : start + 1], "2006"))
        else:
            out.append((layout[pos:start], std))
        pos = match.end()
    return out


def format_time(t: GoTime, layout: str) -> str:
    civil = t.civil()
    offset, abbrev = t.offset_and_abbrev()
    out: list[str] = []
    for literal, std in _chunks(layout):
        out.append(literal)
        if not std:
            continue
        out.append(_format_std(std, t, civil, offset, abbrev))
    return "".join(out)


def _format_std(std: str, t: GoTime, c: datetime.datetime, offset: int, abbrev: str) -> str:
    hour12 = c.hour % 12 or 12
    if std == "2006":
        return f"{c.year:04d}"
    if std == "06":
        return f"{c.year % 100:02d}"
    if std == "January":
        return _LONG_MONTHS[c.month - 1]
    if std == "Jan":
        return _LONG_MONTHS[c.month - 1][:3]
    if std == "01":
        return f"{c.month:02d}"
    if std == "1":
        return f"{c.month}"
    if std == "Monday":
        return _LONG_DAYS[(c.weekday() + 1) % 7]
    if std == "Mon":
        return _LONG_DAYS[(c.weekday() + 1) % 7][:3]
    if std == "2":
        return f"{c.day}"
    if std == "_2":
        return f"{c.day:2d}"
    if std == "02":
        return f"{c.day:02d}"
    if std == "__2":
        return f"{c.timetuple().tm_yday:3d}"
    if std == "002":
        return f"{c.timetuple().tm_yday:03d}"
    if std == "15":
        return f"{c.hour:02d}"
    if std == "3":
        return f"{hour12}"
    if std == "03":
        return f"{hour12:02d}"
    if std == "4":
        return f"{c.minute}"
    if std == "04":
        return f"{c.minute:02d}"
    if std == "5":
        return f"{c.second}"
    if std == "05":
        return f"{c.second:02d}"
    if std == "PM":
        return "PM" if c.hour >= 12 else "AM"
    if std == "pm":
        return "pm" if c.hour >= 12 else "am"
    if std[0] in ".,":
        digits = len(std) - 1
        frac = f"{t.nsec:09d}"[:digits]
        if std[1] == "9":
            frac = frac.rstrip("0")
            return std[0] + frac if frac else ""
        return std[0] + frac
    if std == "MST":
        if abbrev:
            return abbrev
        minutes = offset // 60
        sign = "-" if minutes < 0 else "+"
        minutes = abs(minutes)
        return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    if std.startswith(("Z", "-")):
        if std[0] == "Z" and offset == 0:
            return "Z"
        sign = "-" if offset < 0 else "+"
        total = abs(offset)
        hh, mm, ss = total // 3600, total // 60 % 60, total % 60
        shape = std[1:]
        if shape == "07":
            return f"{sign}{hh:02d}"
        if shape == "0700":
            return f"{sign}{hh:02d}{mm:02d}"
        if shape == "07:00":
            return f"{sign}{hh:02d}:{mm:02d}"
        if shape == "070000":
            return f"{sign}{hh:02d}{mm:02d}{ss:02d}"
        return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}"
    raise AssertionError(std)


# --- parsing -----------------------------------------------------------------------------------------


class _ParseError(ValueError):
    pass


def _perr(layout: str, value: str, elem_layout: str, elem_value: str, message: str = "") -> _ParseError:
    if message:
        return _ParseError(f"parsing time {_quote(value)}{message}")
    return _ParseError(
        f"parsing time {_quote(value)} as {_quote(layout)}: cannot parse {_quote(elem_value)} as "
        f"{_quote(elem_layout)}"
    )


def _quote(text: str) -> str:
    from ferry.gotemplate.gofmt import quote  # noqa: PLC0415

    return quote(text)


def _num(value: str, fixed: bool, width: int = 2) -> tuple[int, str]:
    if fixed:
        if len(value) < width or not value[:width].isdigit():
            raise ValueError("bad number")
        return int(value[:width]), value[width:]
    match = re.match(rf"\d{{1,{width}}}", value)
    if not match:
        raise ValueError("bad number")
    return int(match.group(0)), value[match.end() :]


def parse_time(layout: str, value: str, default_loc: Location = UTC) -> GoTime:  # noqa: PLR0915 - time.parse
    """time.Parse (``default_loc`` UTC) / time.ParseInLocation; ValueError with Go's message."""
    orig_value = value
    year, month, day, hour, minute, second, nsec = 1, 1, 1, 0, 0, 0, 0
    yday = -1
    pm_set = am_set = False
    offset: int | None = None
    zone_name = ""
    utc_z = False
    chunks = _chunks(layout)
    for index, (literal, std) in enumerate(chunks):
        try:
            value = _skip(literal, value)
        except ValueError:
            raise _perr(layout, orig_value, literal, value) from None
        if not std:
            if value:
                raise _perr(layout, orig_value, "", "", f": extra text: {_quote(value)}")
            break
        hold = value
        try:
            if std == "2006":
                if len(value) < 4 or not value[:4].isdigit():
                    raise ValueError
                year, value = int(value[:4]), value[4:]
            elif std == "06":
                yy, value = _num(value, True)
                year = yy + (1900 if yy >= 69 else 2000)
            elif std in ("January", "Jan"):
                names = _LONG_MONTHS if std == "January" else [m[:3] for m in _LONG_MONTHS]
                month, value = _lookup(names, value)
                month += 1
            elif std in ("01", "1"):
                month, value = _num(value, std == "01")
                if not 1 <= month <= 12:
                    raise _perr(layout, orig_value, "", "", ": month out of range")
            elif std in ("Monday", "Mon"):
                names = _LONG_DAYS if std == "Monday" else [d[:3] for d in _LONG_DAYS]
                _, value = _lookup(names, value)
            elif std in ("02", "2", "_2"):
                if std == "_2" and value.startswith(" "):
                    value = value[1:]
                day, value = _num(value, std == "02")
            elif std in ("002", "__2"):
                if std == "__2":
                    value = value.lstrip(" ") if value.startswith(" ") else value
                yday, value = _num(value, std == "002", 3)
            elif std == "15":
                hour, value = _num(value, False)
                if hour > 23:
                    raise _perr(layout, orig_value, "", "", ": hour out of range")
            elif std in ("3", "03"):
                hour, value = _num(value, std == "03")
                if hour > 12:
                    raise _perr(layout, orig_value, "", "", ": hour out of range")
            elif std in ("4", "04"):
                minute, value = _num(value, std == "04")
                if minute > 59:
                    raise _perr(layout, orig_value, "", "", ": minute out of range")
            elif std in ("5", "05"):
                second, value = _num(value, std == "05")
                if second > 59:
                    raise _perr(layout, orig_value, "", "", ": second out of range")
                # a fractional second after seconds is accepted even when the layout has none
                nxt = chunks[index + 1] if index + 1 < len(chunks) else ("", "")
                if (
                    len(value) >= 2
                    and value[0] in ".,"
                    and value[1].isdigit()
                    and nxt[1][:1] not in (".", ",")
                ):
                    match = re.match(r"[.,](\d+)", value)
                    assert match is not None
                    digits = match.group(1)
                    nsec = int((digits + "000000000")[:9])
                    value = value[match.end() :]
            elif std in ("PM", "pm"):
                meridiem = value[:2]
                if meridiem.upper() == "PM" if std == "PM" else meridiem == "pm":
                    pm_set = True
                elif meridiem.upper() == "AM" if std == "PM" else meridiem == "am":
                    am_set = True
                else:
                    raise ValueError
                value = value[2:]
            elif std[0] in ".,":
                digits = len(std) - 1
                if std[1] == "0":
                    if len(value) < digits + 1 or value[0] not in ".," or not value[1 : digits + 1].isdigit():
                        raise ValueError
                    nsec = int((value[1 : digits + 1] + "000000000")[:9])
                    value = value[digits + 1 :]
                else:
                    match = re.match(r"[.,](\d+)", value)
                    if match:
                        nsec = int((match.group(1) + "000000000")[:9])
                        value = value[match.end() :]
            elif std == "MST":
                match = re.match(r"[A-Z]{3,5}|[+-]\d{2}(\d{2})?", value)
                if not match:
                    raise ValueError
                zone_name = match.group(0)
                value = value[match.end() :]
                if zone_name == "UTC":
                    utc_z = True
            elif std.startswith(("Z", "-")):
                if std[0] == "Z" and value.startswith("Z"):
                    value = value[1:]
                    utc_z = True
                else:
                    offset, value = _parse_offset(std[1:], value)
        except _ParseError:
            raise
        except ValueError:
            raise _perr(layout, orig_value, std, hold) from None
    if pm_set and hour < 12:
        hour += 12
    elif am_set and hour == 12:
        hour = 0
    if yday >= 0:
        if yday < 1 or yday > 366:
            raise _perr(layout, orig_value, "", "", ": day-of-year out of range")
        date = datetime.date(year, 1, 1) + datetime.timedelta(days=yday - 1)
        month, day = date.month, date.day
    if day < 1 or day > _days_in(month, year):
        raise _perr(layout, orig_value, "", "", ": day out of range")
    naive = datetime.datetime(year, month, day, hour, minute, second)
    if utc_z:
        seconds = int((naive.replace(tzinfo=datetime.UTC) - _EPOCH).total_seconds())
        return GoTime(seconds, nsec, UTC)
    if offset is not None:
        seconds = int((naive.replace(tzinfo=datetime.UTC) - _EPOCH).total_seconds()) - offset
        loc = _location_for_offset(seconds, offset, default_loc)
        return GoTime(seconds, nsec, loc)
    aware = naive.replace(tzinfo=default_loc.tz)
    seconds = int((aware - _EPOCH).total_seconds())
    return GoTime(seconds, nsec, default_loc)


def _location_for_offset(seconds: int, offset: int, default_loc: Location) -> Location:
    candidate = local()
    civil = (_EPOCH + datetime.timedelta(seconds=seconds)).astimezone(candidate.tz)
    if int((civil.utcoffset() or datetime.timedelta()).total_seconds()) == offset:
        return candidate
    if offset == 0 and default_loc is UTC:
        return UTC
    return Location("", datetime.timezone(datetime.timedelta(seconds=offset)), "")


def _skip(literal: str, value: str) -> str:
    """time.skip: literal spaces match one or more spaces."""
    i = 0
    while i < len(literal):
        if literal[i] == " ":
            if value and value[0] != " ":
                raise ValueError
            while i < len(literal) and literal[i] == " ":
                i += 1
            value = value.lstrip(" ")
            continue
        if not value or value[0] != literal[i]:
            raise ValueError
        value = value[1:]
        i += 1
    return value


def _lookup(names: list[str], value: str) -> tuple[int, str]:
    for i, name in enumerate(names):
        if value[: len(name)].lower() == name.lower():
            return i, value[len(name) :]
    raise ValueError("bad value for field")


def _parse_offset(shape: str, value: str) -> tuple[int, str]:
    patterns = {
        "07": r"([+-])(\d\d)",
        "0700": r"([+-])(\d\d)(\d\d)",
        "07:00": r"([+-])(\d\d):(\d\d)",
        "070000": r"([+-])(\d\d)(\d\d)(\d\d)",
        "07:00:00": r"([+-])(\d\d):(\d\d):(\d\d)",
    }
    match = re.match(patterns[shape], value)
    if not match:
        raise ValueError("bad offset")
    parts = [int(g) for g in match.groups()[1:]] + [0, 0]
    hh, mm, ss = parts[0], parts[1], parts[2]
    if hh > 24 or mm > 59 or ss > 59:
        raise ValueError("bad offset")
    total = hh * 3600 + mm * 60 + ss
    return (-total if match.group(1) == "-" else total), value[match.end() :]


RFC3339 = "2006-01-02T15:04:05Z07:00"

LAYOUTS: dict[str, str] = {
    "Layout": "01/02 03:04:05PM '06 -0700",
    "ANSIC": "Mon Jan _2 15:04:05 2006",
    "UnixDate": "Mon Jan _2 15:04:05 MST 2006",
    "RubyDate": "Mon Jan 02 15:04:05 -0700 2006",
    "RFC822": "02 Jan 06 15:04 MST",
    "RFC822Z": "02 Jan 06 15:04 -0700",
    "RFC850": "Monday, 02-Jan-06 15:04:05 MST",
    "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST",
    "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700",
    "RFC3339": RFC3339,
    "RFC3339Nano": "2006-01-02T15:04:05.999999999Z07:00",
    "Kitchen": "3:04PM",
    "Stamp": "Jan _2 15:04:05",
    "StampMilli": "Jan _2 15:04:05.000",
    "StampMicro": "Jan _2 15:04:05.000000",
    "StampNano": "Jan _2 15:04:05.000000000",
}


# --- methods -----------------------------------------------------------------------------------------


def _m(name: str, impl: Any, *params: GoType, result: GoType) -> GoFunc:
    return GoFunc(name, Signature(params, None, result, False), impl)


def _add_date(t: GoTime, years: int, months: int, days: int) -> GoTime:
    c = t.civil()
    month_index = c.month - 1 + months
    year = c.year + years + month_index // 12
    month = month_index % 12 + 1
    base = datetime.datetime(year, month, 1, c.hour, c.minute, c.second, tzinfo=t.loc.tz)
    moved = base + datetime.timedelta(days=c.day - 1 + days)
    seconds = int((moved - _EPOCH).total_seconds())
    return GoTime(seconds, t.nsec, t.loc)


def _truncate(t: GoTime, d: int) -> GoTime:
    if d <= 0:
        return t
    ns = t.instant() + 62135596800 * SECOND  # Go truncates relative to the zero time
    ns -= ns % d
    ns -= 62135596800 * SECOND
    return GoTime(ns // SECOND, ns % SECOND, t.loc)


def _round(t: GoTime, d: int) -> GoTime:
    if d <= 0:
        return t
    ns = t.instant() + 62135596800 * SECOND
    rem = ns % d
    ns = ns - rem + (d if rem + rem >= d else 0)
    ns -= 62135596800 * SECOND
    return GoTime(ns // SECOND, ns % SECOND, t.loc)


def _sub(t: GoTime, u: GoTime) -> Duration:
    diff = t.instant() - u.instant()
    return Duration(max(min(diff, (1 << 63) - 1), -(1 << 63)))


GoTime.go_methods = {
    "Format": _m("Format", lambda t, layout: t.format(layout), STRING, result=STRING),
    "String": _m("String", lambda t: t.go_string(), result=STRING),
    "Unix": _m("Unix", lambda t: t.unix, result=INT64),
    "UnixMilli": _m("UnixMilli", lambda t: t.instant() // MILLISECOND, result=INT64),
    "UnixMicro": _m("UnixMicro", lambda t: t.instant() // MICROSECOND, result=INT64),
    "UnixNano": _m("UnixNano", lambda t: t.instant(), result=INT64),
    "UTC": _m("UTC", lambda t: t.in_location(UTC), result=TIME),
    "Local": _m("Local", lambda t: t.in_location(local()), result=TIME),
    "Add": _m("Add", lambda t, d: GoTime(t.unix, t.nsec + int(d), t.loc), DURATION, result=TIME),
    "AddDate": _m("AddDate", _add_date, INT, INT, INT, result=TIME),
    "Sub": _m("Sub", _sub, TIME, result=DURATION),
    "Before": _m("Before", lambda t, u: t.instant() < u.instant(), TIME, result=BOOL),
    "After": _m("After", lambda t, u: t.instant() > u.instant(), TIME, result=BOOL),
    "Equal": _m("Equal", lambda t, u: t.instant() == u.instant(), TIME, result=BOOL),
    "Compare": _m(
        "Compare",
        lambda t, u: GoInt((t.instant() > u.instant()) - (t.instant() < u.instant())),
        TIME,
        result=INT,
    ),
    "IsZero": _m("IsZero", lambda t: t.is_zero(), result=BOOL),
    "Year": _m("Year", lambda t: GoInt(t.civil().year), result=INT),
    "Month": _m("Month", lambda t: Month(t.civil().month), result=GoType("time.Month", "int")),
    "Day": _m("Day", lambda t: GoInt(t.civil().day), result=INT),
    "Hour": _m("Hour", lambda t: GoInt(t.civil().hour), result=INT),
    "Minute": _m("Minute", lambda t: GoInt(t.civil().minute), result=INT),
    "Second": _m("Second", lambda t: GoInt(t.civil().second), result=INT),
    "Nanosecond": _m("Nanosecond", lambda t: GoInt(t.nsec), result=INT),
    "YearDay": _m("YearDay", lambda t: GoInt(t.civil().timetuple().tm_yday), result=INT),
    "Weekday": _m(
        "Weekday", lambda t: Weekday((t.civil().weekday() + 1) % 7), result=GoType("time.Weekday", "int")
    ),
    "Truncate": _m("Truncate", _truncate, DURATION, result=TIME),
    "Round": _m("Round", _round, DURATION, result=TIME),
}

Duration.go_methods = {
    "String": _m("String", lambda d: d.go_string(), result=STRING),
    "Nanoseconds": _m("Nanoseconds", int, result=INT64),
    "Microseconds": _m("Microseconds", lambda d: int(d) // MICROSECOND, result=INT64),
    "Milliseconds": _m("Milliseconds", lambda d: int(d) // MILLISECOND, result=INT64),
    "Seconds": _m("Seconds", lambda d: int(d) / SECOND, result=FLOAT64),
    "Minutes": _m("Minutes", lambda d: int(d) / MINUTE, result=FLOAT64),
    "Hours": _m("Hours", lambda d: int(d) / HOUR, result=FLOAT64),
    "Abs": _m("Abs", lambda d: Duration(abs(int(d))), result=DURATION),
}

Month.go_methods = {"String": _m("String", lambda m: m.go_string(), result=STRING)}
Weekday.go_methods = {"String": _m("String", lambda w: w.go_string(), result=STRING)}

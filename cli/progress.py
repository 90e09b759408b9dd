"""Showing an application's operation as it runs: on a terminal a block redrawn in place (phase,
each resource's wave, status, health and hook), when piped one plain line per change so logs and
scripts read it top to bottom."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import click

from cli.output import paint

Obj = dict[str, Any]
ResourceKey = tuple[str, str, str, str]

TERMINAL_PHASES = ("Succeeded", "Failed", "Error")


def short_revision(revision: str) -> str:
    """A commit SHA shortened as git does; tags, versions and branch names unchanged."""
    is_sha = len(revision) == 40 and all(ch in "0123456789abcdef" for ch in revision)
    return revision[:7] if is_sha else revision


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(started: str, finished: str) -> str:
    """Seconds between two RFC 3339 times, e.g. ``12s``; empty when either is missing."""
    start, end = _parse_time(started), _parse_time(finished)
    if start is None or end is None:
        return ""
    return f"{int((end - start).total_seconds())}s"


def operation_done(app: Obj) -> bool:
    """True when no operation is requested or running and the last one has ended."""
    state = (app.get("status") or {}).get("operationState") or {}
    return app.get("operation") is None and state.get("phase") in TERMINAL_PHASES


def _key(item: Obj) -> ResourceKey:
    return (item.get("group", ""), item.get("kind", ""), item.get("namespace", ""), item.get("name", ""))


def resource_rows(app: Obj, wide: bool = False) -> list[list[str]]:
    """GROUP KIND NAMESPACE NAME STATUS HEALTH HOOK MESSAGE (and WAVE when wide) for every managed
    resource and every hook of the last operation, with the operation's message per resource."""
    status = app.get("status") or {}
    results = ((status.get("operationState") or {}).get("syncResult") or {}).get("resources") or []
    messages = {_key(r): r.get("message", "") for r in results if not r.get("hookType")}
    rows = []
    for resource in status.get("resources") or []:
        if resource.get("hook"):
            continue
        row = [
            *_key(resource),
            resource.get("status", ""),
            (resource.get("health") or {}).get("status", ""),
            "",
            messages.get(_key(resource), ""),
        ]
        rows.append([*row, str(resource.get("syncWave", 0))] if wide else row)
    for result in results:
        if result.get("hookType"):
            row = [
                *_key(result),
                result.get("hookPhase", ""),
                "",
                result["hookType"],
                result.get("message", ""),
            ]
            rows.append([*row, ""] if wide else row)
    return rows


class OperationProgress:
    """Prints an operation's progress; ``live`` redraws on a terminal, otherwise plain lines."""

    def __init__(self, live: bool) -> None:
        self.live = live
        self.seen: dict[Any, tuple[str, ...]] = {}
        self.drawn_lines = 0
        self.started = time.monotonic()

    def _rows(self, app: Obj) -> list[tuple[Any, tuple[str, ...]]]:
        status = app.get("status") or {}
        waves = {_key(r): str(r.get("syncWave", 0)) for r in status.get("resources") or []}
        health = {_key(r): (r.get("health") or {}).get("status", "") for r in status.get("resources") or []}
        results = ((status.get("operationState") or {}).get("syncResult") or {}).get("resources") or []
        rows: list[tuple[Any, tuple[str, ...]]] = []
        for result in results:
            key = _key(result)
            hook = result.get("hookType", "")
            where = f"{key[2]}/{key[3]}" if key[2] else key[3]
            kind = f"{key[0]}/{key[1]}" if key[0] else key[1]
            state = result.get("hookPhase", "") if hook else result.get("status", "")
            rows.append(
                (
                    (key, hook),
                    (
                        waves.get(key, "-") if not hook else "-",
                        kind,
                        where,
                        state,
                        "" if hook else health.get(key, ""),
                        hook,
                        result.get("message", ""),
                    ),
                )
            )
        return rows

    def update(self, app: Obj) -> None:
        state = (app.get("status") or {}).get("operationState") or {}
        phase = ("Pending" if app.get("operation") is not None else state.get("phase", "")) or "Pending"
        header = (phase, state.get("message", ""))
        rows = self._rows(app)
        if self.live:
            self._redraw(header, rows)
            return
        stamp = time.strftime("%H:%M:%S")
        if self.seen.get("phase") != header:
            self.seen["phase"] = header
            click.echo(f"{stamp}  operation {phase}" + (f": {header[1]}" if header[1] else ""))
        for key, row in rows:
            if self.seen.get(key) != row:
                self.seen[key] = row
                wave, kind, where, status, health, hook, message = row
                parts = [
                    f"wave {wave}" if wave != "-" else "hook",
                    kind,
                    where,
                    status,
                    health,
                    hook and f"({hook})",
                    message,
                ]
                click.echo(f"{stamp}  " + "  ".join(p for p in parts if p))

    def _redraw(self, header: tuple[str, str], rows: list[tuple[Any, tuple[str, ...]]]) -> None:
        elapsed = int(time.monotonic() - self.started)
        lines = [f"Phase: {paint(header[0])}  ({elapsed}s)" + (f"  {header[1]}" if header[1] else "")]
        cells = [["WAVE", "KIND", "NAME", "STATUS", "HEALTH", "HOOK", "MESSAGE"]] + [list(r) for _, r in rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        for index, row in enumerate(cells):
            shown = [
                (c if index == 0 else paint(c)) + " " * (w - len(c)) for c, w in zip(row, widths, strict=True)
            ]
            lines.append("  ".join(shown).rstrip())
        self._clear()
        click.echo("\n".join(lines))
        self.drawn_lines = len(lines)

    def _clear(self) -> None:
        if self.drawn_lines:
            click.echo(f"\x1b[{self.drawn_lines}F\x1b[J", nl=False)
            self.drawn_lines = 0

    def close(self) -> None:
        """Remove the live block: the final summary replaces it."""
        if self.live:
            self._clear()

"""How the CLI prints: aligned tables like ``argocd``'s, ``-o json|yaml`` for scripts, colour
only on a terminal and never with ``NO_COLOR``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click
import yaml
from google.protobuf.message import Message

from ferry.convert import to_k8s

COLOURS = {
    "Synced": "green",
    "Healthy": "green",
    "Succeeded": "green",
    "OutOfSync": "yellow",
    "Progressing": "cyan",
    "Running": "cyan",
    "Degraded": "red",
    "Failed": "red",
    "Error": "red",
    "SyncFailed": "red",
    "Missing": "yellow",
    "Unknown": "magenta",
    "Suspended": "magenta",
    "Pruned": "blue",
}


def colour_enabled() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def paint(text: str) -> str:
    colour = COLOURS.get(text)
    return click.style(text, fg=colour) if colour and colour_enabled() else text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Left-aligned columns separated by two spaces (colour does not disturb the alignment)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        parts = [paint(c) + " " * (w - len(c)) for c, w in zip(row, widths, strict=True)]
        click.echo("  ".join(parts).rstrip())


def structured(value: Message | dict[str, Any] | list[Any], fmt: str) -> None:
    data = to_k8s(value) if isinstance(value, Message) else value
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False))
    else:
        click.echo(yaml.safe_dump(data, sort_keys=False).rstrip())


def items(values: Sequence[Message], fmt: str) -> None:
    structured([to_k8s(v) for v in values], fmt)

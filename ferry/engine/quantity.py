"""Kubernetes resource quantities ("1000m", "1", "0.5Gi", "1e3"), compared by value.

The API server canonicalises quantities it stores ("1000m" becomes "1"), so a manifest that says
"1000m" must not look different from the live "1". ``canonical`` maps every spelling of a value
to one string.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIXES = {
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(
    r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$"
)


def parse(text: str) -> Decimal | None:
    """The value of a quantity string, or None when it is not one."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        return None
    number, exponent, suffix = match.groups()
    try:
        value = Decimal(number)
        if exponent:
            return value * (Decimal(10) ** int(exponent[1:]))
        return value * _SUFFIXES[suffix or ""]
    except (InvalidOperation, ValueError):
        return None


def canonical(value: object) -> object:
    """One spelling per value: "1000m", "1" and 1 all become "1"; non-quantities unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        parsed: Decimal | None = Decimal(str(value))
    elif isinstance(value, str):
        parsed = parse(value)
    else:
        return value
    if parsed is None:
        return value
    normalized = parsed.normalize()
    text = format(normalized, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text

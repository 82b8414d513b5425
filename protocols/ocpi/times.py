"""OCPI's DateTime, the same in every version: RFC 3339 in UTC, `Z` form going out; read with or without a zone."""

from __future__ import annotations

import re
from datetime import datetime, timezone


def parse_datetime(text: str) -> datetime:
    """An OCPI DateTime (no designator means UTC) as an aware UTC datetime."""
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    if "." in text:  # Python 3.11 accepts 3 or 6 fractional digits only: pad or cut to 6
        head, _, frac = text.partition(".")
        digits = re.match(r"\d*", frac).group(0)  # type: ignore[union-attr]
        text = f"{head}.{(digits + '000000')[:6]}{frac[len(digits):]}"
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def format_datetime(value: datetime) -> str:
    """The `Z` form: whole seconds, or milliseconds when there is a sub-second part."""
    value = (value.astimezone(timezone.utc) if value.tzinfo else value).replace(tzinfo=None)
    # isoformat, not strftime: %Y drops the leading zeros of years before 1000 on glibc
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds") + "Z"

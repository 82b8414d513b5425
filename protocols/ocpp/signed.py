"""Signed meter readings (OCMF and the like, for calibration law) as a CDR's signed_data carries them. Pure."""

from __future__ import annotations

from decimal import Decimal

from hub import model

NATURE = {"Transaction.Begin": "Start", "Transaction.End": "End"}  # reading context -> OCPI SignedValue.nature
MAX_DATA = 5000  # characters OCPI's SignedValue.signed_data holds
MAX_KEY = 512  # ... and its SignedData.public_key


def reading(data: str, context: str | None, encoding: str, public_key: str | None, plain: Decimal | None) -> model.SignedReading | None:
    """A signed reading, or None when it cannot be carried (too long). Its plain data is the readable payload
    of an OCMF string, else the plain reading."""
    if len(data) > MAX_DATA:
        return None
    if data.startswith("OCMF|") and data.count("|") >= 2:
        plain_data = data[5:].rsplit("|", 1)[0]
    else:
        plain_data = "" if plain is None else str(plain)
    return model.SignedReading(
        value=model.SignedValue(nature=NATURE.get(context or "", "Intermediate"), plain_data=plain_data, signed_data=data),
        encoding_method="".join(c for c in encoding if " " <= c <= "~")[:36] or "UNKNOWN",  # OCPI: CiString(36)
        public_key=public_key if public_key and len(public_key) <= MAX_KEY else None,
    )

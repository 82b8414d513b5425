"""REST ids of the partner API: `{CC}{PID}-{key}`, e.g. `NLGRN-LOC1`.

Canonical objects are keyed by owner party plus an OCPI id, so a REST id is both, readable and
reversible without a lookup table. The key is the OCPI id as is (it may itself contain '-': only the
first '-', after the 5-character party, separates). Site: location id; charge point: EVSE uid (unique
within a CPO); charge: session id; CDR: CDR id; tariff: tariff id.

A token is unique by uid *and type* under its eMSP (an RFID card and an app account may share a uid), so its
key is `{TYPE}-{uid}` with the OCPI token type, e.g. `DEEMS-RFID-04A1B2C3`, `DEEMS-APP_USER-9f1c...`: no type
has a '-', so the first '-' of the key ends it.
"""

from __future__ import annotations

from hub.model import PartyId

_PARTY = 5  # 2-letter country code + 3-character party id
TOKEN_TYPES = ("RFID", "APP_USER", "AD_HOC_USER", "OTHER")  # OCPI TokenType


def make(owner: PartyId, key: str) -> str:
    party = f"{owner.country_code}{owner.party_id}".upper()
    if len(owner.country_code) != 2 or len(party) != _PARTY or not (party.isascii() and party.isalnum()) or not key:
        raise ValueError(f"no REST id for {owner}/{key!r}")  # it would not parse back
    return f"{party}-{key}"


def parse(text: str) -> tuple[PartyId, str] | None:
    """(owner, key), or None for anything that is not an id (callers answer 404)."""
    party, sep, key = text[:_PARTY], text[_PARTY : _PARTY + 1], text[_PARTY + 1 :]
    if sep != "-" or not key or len(party) != _PARTY or not (party.isascii() and party.isalnum()):
        return None
    return PartyId.of(party[:2], party[2:]), key


def token(owner: PartyId, type_: str, uid: str) -> str:
    return make(owner, f"{type_}-{uid}")


def parse_token(text: str) -> tuple[PartyId, str, str] | None:
    """(owner, type, uid) of a token id, or None."""
    parsed = parse(text)
    if parsed is None:
        return None
    type_, sep, uid = parsed[1].partition("-")
    if not sep or not uid or type_.upper() not in TOKEN_TYPES:
        return None
    return parsed[0], type_.upper(), uid

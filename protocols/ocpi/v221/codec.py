"""Canonical objects <-> OCPI 2.2.1 bytes, by kind name (the names the store and the outbox use). Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import msgspec

from hub import model
from protocols.ocpi.v221 import mapping as m
from protocols.ocpi.v221 import wire

# kind -> (canonical type, canonical -> wire)
TO_WIRE: dict[str, tuple[type, Callable[[Any], Any]]] = {
    "location": (model.Location, m.location_from_canonical),
    "evse": (model.Evse, m.evse_from_canonical),
    "connector": (model.Connector, m.connector_from_canonical),
    "tariff": (model.Tariff, m.tariff_from_canonical),
    "token": (model.Token, m.token_from_canonical),
    "session": (model.Session, m.session_from_canonical),
    "cdr": (model.Cdr, m.cdr_from_canonical),
    "clientinfo": (model.ClientInfo, m.client_info_from_canonical),
}
_decoders = {kind: msgspec.json.Decoder(t) for kind, (t, _) in TO_WIRE.items()}


def render(kind: str, obj: Any) -> bytes:
    """The OCPI 2.2.1 JSON of a canonical object (the store keeps it beside the document)."""
    return wire.encode(TO_WIRE[kind][1](obj))


# --- a Location stored apart from its EVSEs ------------------------------------------------------------------------
# The store keeps a Location's own fields (its shell) and each EVSE separately, so that one EVSE's change writes
# one EVSE; the Location is served as the bytes `render` gives, put together from those parts.

SPLIT = b"\x00"  # never in JSON text (msgspec escapes control characters)
_EVSES = b',"evses":['


def location_shell(loc: model.Location) -> bytes:
    """The Location's OCPI JSON without its EVSEs: the text before them and the text after, split by NUL."""
    shell = msgspec.structs.replace(m.location_from_canonical(msgspec.structs.replace(loc, evses=[])), evses=[])
    raw = wire.encode(shell)
    at = raw.index(_EVSES) + len(_EVSES)  # `evses` is a field of the Location only, and a string holds no raw quote
    return raw[:at] + SPLIT + raw[at:]


def assemble_location(shell: bytes, evses: list[bytes]) -> bytes:
    """`render("location", loc)`, from its shell and its EVSEs rendered in order."""
    head, _, tail = shell.partition(SPLIT)
    if evses:
        return head + b",".join(evses) + tail
    return head[: -len(_EVSES)] + tail[1:]  # no EVSEs: no `evses` field at all (as the wire type omits it)


def render_doc(kind: str, doc: bytes) -> bytes:
    """From a canonical document (as in the outbox) to OCPI JSON."""
    return render(kind, _decoders[kind].decode(doc))


def render_fields(kind: str, doc: bytes, fields: Iterable[str]) -> bytes:
    """A PATCH body: only the changed fields (plus last_updated) of the rendered object."""
    full = msgspec.to_builtins(TO_WIRE[kind][1](_decoders[kind].decode(doc)), builtin_types=(Decimal,))
    wanted = set(fields) | {"last_updated"}
    return wire.encode({k: v for k, v in full.items() if k in wanted})

"""OCPP-J framing (the RPC layer both versions share). Pure.

    [2, "<id>", "<Action>", {payload}]      CALL
    [3, "<id>", {payload}]                  CALLRESULT
    [4, "<id>", "<code>", "<description>", {details}]   CALLERROR
"""

from __future__ import annotations

from typing import Any

import msgspec

CALL, CALLRESULT, CALLERROR = 2, 3, 4
VERSIONS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}

_encoder = msgspec.json.Encoder(decimal_format="number")
_decoder = msgspec.json.Decoder()


class RpcError(Exception):
    """Answered with a CALLERROR. `code` is a generic name; `code_for` spells it the version's way."""

    def __init__(self, code: str, description: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description[:255]
        self.details = details or {}

    def code_for(self, version: str) -> str:
        if version == "1.6":  # 1.6 spells these the way its spec did
            return {"FormatViolation": "FormationViolation", "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
                    "RpcFrameworkError": "ProtocolError", "MessageTypeNotSupported": "NotSupported"}.get(self.code, self.code)
        return self.code


class Frame(msgspec.Struct, frozen=True):
    kind: int
    id: str
    action: str | None = None  # CALL
    payload: Any = None  # CALL and CALLRESULT
    error: tuple[str, str, Any] | None = None  # CALLERROR: code, description, details


MAX_ID = 36  # characters of a message id (OCPP-J)


def parse(raw: str | bytes) -> Frame:
    """A frame, or RpcError when it is not one: RpcFrameworkError without an id when its id cannot be trusted.
    Nothing a charger sends makes this raise anything else."""
    try:
        msg = _decoder.decode(raw)
    except msgspec.DecodeError:
        raise RpcError("RpcFrameworkError", "the message is not valid JSON") from None
    except RecursionError:  # msgspec's answer to nesting deeper than the stack
        raise RpcError("RpcFrameworkError", "the message is nested too deeply") from None
    if not isinstance(msg, list) or len(msg) < 3 or not isinstance(msg[1], str) or not 0 < len(msg[1]) <= MAX_ID:
        raise RpcError("RpcFrameworkError", f"an OCPP-J message is an array [type, id (a string of 1 to {MAX_ID} characters), ...]")
    kind, uid = msg[0], msg[1]
    if type(kind) is not int:
        raise RpcError("RpcFrameworkError", "the message type is a number", {"id": uid})
    if kind == CALL and len(msg) == 4 and isinstance(msg[2], str):
        if not isinstance(msg[3], dict):
            raise RpcError("FormatViolation", "the payload of a CALL is an object", {"id": uid})
        return Frame(CALL, uid, msg[2], msg[3])
    if kind == CALLRESULT and len(msg) == 3:
        return Frame(CALLRESULT, uid, payload=msg[2])
    if kind == CALLERROR and len(msg) >= 4:
        code = msg[2] if isinstance(msg[2], str) else "GenericError"
        description = msg[3] if isinstance(msg[3], str) else ""
        return Frame(CALLERROR, uid, error=(code, description, msg[4] if len(msg) > 4 else {}))
    if kind not in (CALL, CALLRESULT, CALLERROR):
        raise RpcError("MessageTypeNotSupported", f"unknown message type {kind}", {"id": uid})
    raise RpcError("RpcFrameworkError", "the message does not have the elements of its type", {"id": uid})


def call(uid: str, action: str, payload: Any) -> bytes:
    return _encoder.encode([CALL, uid, action, payload])


def result(uid: str, payload: Any) -> bytes:
    return _encoder.encode([CALLRESULT, uid, payload])


def error(uid: str, err: RpcError, version: str) -> bytes:
    return _encoder.encode([CALLERROR, uid, err.code_for(version), err.description, err.details])

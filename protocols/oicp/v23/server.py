"""OICP 2.3 endpoints Hubject calls on the hub, under /oicp/api/oicp (the hub registers {hub}/oicp as its base URL
in Hubject's portal; Hubject appends its own path, which starts with /api/oicp).

    CPO side (an EMP's call, forwarded to the hub's CPO)    -> eRoamingAcknowledgement
      /charging/v21/providers/{providerID}/authorize-remote/start       AuthorizeRemoteStart
      /charging/v21/providers/{providerID}/authorize-remote/stop        AuthorizeRemoteStop
      /reservation/v11/providers/{providerID}/reservation-start-request AuthorizeRemoteReservationStart
      /reservation/v11/providers/{providerID}/reservation-stop-request  AuthorizeRemoteReservationStop
    EMP side (a CPO's call, forwarded to the hub's eMSP)
      /charging/v21/operators/{operatorID}/authorize/start              AuthorizeStart -> AuthorizationStart
      /charging/v21/operators/{operatorID}/authorize/stop               AuthorizeStop -> AuthorizationStop
      /cdrmgmt/v22/operators/{operatorID}/charge-detail-record          ChargeDetailRecord -> Acknowledgement
      /notificationmgmt/v11/charging-notifications                      ChargingNotification -> Acknowledgement

The business side is an `Inbound` (the connector). Before it is called, in this order (a refused request reaches
it not at all):
  1. the client's address must be allowed (`Inbound.allowed`), else HTTP 403 with an OicpERoamingFault, 017;
  2. the body must decode as the operation's wire type (msgspec only), else HTTP 400, 022 (see `_invalid`);
  3. the partner id in the path must be the body's (ProviderID; OperatorID; for a CDR the EvseID's operator or
     HubOperatorID; case and the `*`/`-` separator aside), else HTTP 200, 017.
Then what the implementation raises: a HubError is answered HTTP 200 with its StatusCode (protocols/oicp/v23/
errors.py) and the request's session ids echoed, anything else HTTP 200 with 021 and a log line (never a
traceback to the caller). Business failures are HTTP 200, as Hubject answers them: Result false for an
acknowledgement, AuthorizationStatus NotAuthorized for an authorization.

A body too large or too slow (the app's request_max_body_size, hub.edge.BodyDeadline) and a path no route matches
are the app's answers, not this router's.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import msgspec
from litestar import Request, Response, Router, post

from hub.services.errors import HubError
from protocols.oicp.v23 import errors, mapping, wire

PREFIX = "/oicp/api/oicp"
JSON = "application/json"

log = logging.getLogger(__name__)


class Inbound(Protocol):
    """What the router needs from the business side. The async methods take the partner id of the path (already
    checked against the body) and the decoded request, and answer in wire types; they may raise HubError."""

    def allowed(self, client: str) -> bool:
        """Whether a call from this IP address is accepted (Hubject's networks only)."""
        ...

    async def remote_start(self, provider_id: str, req: wire.AuthorizeRemoteStart) -> wire.Acknowledgement: ...

    async def remote_stop(self, provider_id: str, req: wire.AuthorizeRemoteStop) -> wire.Acknowledgement: ...

    async def reservation_start(self, provider_id: str, req: wire.AuthorizeRemoteReservationStart) -> wire.Acknowledgement: ...

    async def reservation_stop(self, provider_id: str, req: wire.AuthorizeRemoteReservationStop) -> wire.Acknowledgement: ...

    async def authorize_start(self, operator_id: str, req: wire.AuthorizeStart) -> wire.AuthorizationStart: ...

    async def authorize_stop(self, operator_id: str, req: wire.AuthorizeStop) -> wire.AuthorizationStop: ...

    async def charge_detail_record(self, operator_id: str, req: wire.ChargeDetailRecord) -> wire.Acknowledgement: ...

    async def charging_notification(self, req: wire.ChargingNotification) -> wire.Acknowledgement: ...


Answer = Literal["ack", "start", "stop"]


@dataclass(frozen=True)
class _Operation:
    name: str  # Hubject's operationId: the handler's name and operation_id, and what the log says
    path: str  # under PREFIX
    request: Any  # the wire type of the body
    method: str  # the Inbound method
    answer: Answer
    param: str | None = None  # the path parameter naming the caller
    body_ids: Callable[[Any], list[str]] | None = None  # the ids in the body the path parameter may be


def _cdr_operators(req: wire.ChargeDetailRecord) -> list[str]:
    """A CDR names its CPO by its EvseID; a hub CPO's sub-operator EVSE carries the hub's id as HubOperatorID
    (the path always carries the hub partner's id: digest 4.5)."""
    ids = [req.hub_operator_id] if req.hub_operator_id else []
    try:
        ids.append(mapping.evse_operator_id(req.evse_id))
    except mapping.Unmappable:  # (the EvseID pattern of the wire type makes this unreachable)
        pass
    return ids


OPERATIONS = [
    _Operation("eRoamingAuthorizeRemoteStart", "/charging/v21/providers/{providerID:str}/authorize-remote/start",
               wire.AuthorizeRemoteStart, "remote_start", "ack", "providerID", lambda r: [r.provider_id]),
    _Operation("eRoamingAuthorizeRemoteStop", "/charging/v21/providers/{providerID:str}/authorize-remote/stop",
               wire.AuthorizeRemoteStop, "remote_stop", "ack", "providerID", lambda r: [r.provider_id]),
    _Operation("eRoamingAuthorizeRemoteReservationStart",
               "/reservation/v11/providers/{providerID:str}/reservation-start-request",
               wire.AuthorizeRemoteReservationStart, "reservation_start", "ack", "providerID", lambda r: [r.provider_id]),
    _Operation("eRoamingAuthorizeRemoteReservationStop",
               "/reservation/v11/providers/{providerID:str}/reservation-stop-request",
               wire.AuthorizeRemoteReservationStop, "reservation_stop", "ack", "providerID", lambda r: [r.provider_id]),
    _Operation("eRoamingAuthorizeStart", "/charging/v21/operators/{operatorID:str}/authorize/start",
               wire.AuthorizeStart, "authorize_start", "start", "operatorID", lambda r: [r.operator_id]),
    _Operation("eRoamingAuthorizeStop", "/charging/v21/operators/{operatorID:str}/authorize/stop",
               wire.AuthorizeStop, "authorize_stop", "stop", "operatorID", lambda r: [r.operator_id]),
    _Operation("eRoamingChargeDetailRecord", "/cdrmgmt/v22/operators/{operatorID:str}/charge-detail-record",
               wire.ChargeDetailRecord, "charge_detail_record", "ack", "operatorID", _cdr_operators),
    _Operation("eRoamingChargingNotifications", "/notificationmgmt/v11/charging-notifications",
               wire.ChargingNotification, "charging_notification", "ack"),
]

_ANSWER_TYPES: dict[Answer, type] = {"ack": wire.Acknowledgement, "start": wire.AuthorizationStart,
                                     "stop": wire.AuthorizationStop}


def router(inbound: Inbound) -> Router:
    return Router(path="/", route_handlers=[_handler(op, inbound) for op in OPERATIONS], include_in_schema=False,
                  tags=["OICP 2.3"])


def _handler(op: _Operation, inbound: Inbound) -> Any:
    call = getattr(inbound, op.method)
    answer_type = _ANSWER_TYPES[op.answer]

    async def handle(request: Request) -> Response:
        if not _allowed(inbound, request):
            return _reply(wire.OicpFault(status_code=mapping.status("017", "the client's address is not allowed"),
                                         message="Forbidden: the client's address is not allowed"), 403)
        raw = await request.body()  # (too large or too slow: the app's HTTP error, raised from here)
        try:
            req = wire.decode(raw, op.request)
        except msgspec.DecodeError as exc:  # ValidationError is a DecodeError: not JSON, or not the schema
            return _invalid(op, raw, exc)
        path_id: str | None = request.path_params.get(op.param) if op.param else None
        if op.param and op.body_ids and not any(_same_partner(path_id, i) for i in op.body_ids(req)):
            field = ("EvseID's operator or HubOperatorID" if op.request is wire.ChargeDetailRecord else
                     "ProviderID" if op.param == "providerID" else "OperatorID")
            return _reply(_refusal(op.answer, mapping.status("017", f"{op.param} in the path is not the body's {field}"),
                                   _echo(req)))
        try:
            answer = await (call(path_id, req) if op.param else call(req))
            if not isinstance(answer, answer_type):
                raise TypeError(f"{op.method} answered {type(answer).__name__}, not {answer_type.__name__}")
            return _reply(answer)
        except HubError as exc:
            return _reply(_refusal(op.answer, errors.status_code(exc, getattr(req, "identification", None)), _echo(req)))
        except mapping.Unmappable as exc:  # valid OICP the canonical model cannot take (a DIN id, two media, ...)
            return _reply(_refusal(op.answer, mapping.status("022", str(exc)), _echo(req)))
        except Exception as exc:  # a bug: logged here (no body, only the session it concerns), answered 021
            log.error("OICP %s: the connector failed with %s (SessionID %s)", op.name, type(exc).__name__,
                      getattr(req, "session_id", None), exc_info=exc)
            return _reply(_refusal(op.answer, mapping.status("021"), _echo(req)))

    return post(PREFIX + op.path, name=f"oicp.{op.name}", operation_id=op.name, status_code=200)(handle)


def unmatched(request: Request, exc: Exception) -> Response:
    """No route under /oicp (or not POST): Hubject's own 404 body."""
    status = getattr(exc, "status_code", 404)
    return _reply(wire.OicpFault(status_code=mapping.status("022", f"no OICP operation {request.method} {request.url.path}"),
                                 message="Not Found" if status == 404 else "Method Not Allowed"), status)


def _allowed(inbound: Inbound, request: Request) -> bool:
    """Fail closed: no client address (not a TCP connection), or the check itself failing, is not allowed."""
    if request.client is None or not request.client.host:
        return False
    try:
        return bool(inbound.allowed(request.client.host))
    except Exception:
        log.exception("OICP: the client address check failed; refusing the call")
        return False


def _norm(partner_id: str) -> str:
    """IDs are case-insensitive and their separator optional: DE*ABC = DEABC = de*abc, DE-8EO = DE8EO."""
    return partner_id.replace("*", "").replace("-", "").upper()


def _same_partner(path_id: str | None, body_id: str) -> bool:
    return path_id is not None and _norm(path_id) == _norm(body_id)


# --- answers ---------------------------------------------------------------------------------------------------------


def _echo(req: Any) -> dict[str, Any]:
    """The request's session ids, for the answer (the reservations read both spellings of EMPPartnerSessionID)."""
    emp = getattr(req, "emp_partner_session", None) or getattr(req, "emp_partner_session_id", None)
    return {"session_id": getattr(req, "session_id", None),
            "cpo_partner_session_id": getattr(req, "cpo_partner_session_id", None), "emp_partner_session_id": emp}


def _refusal(answer: Answer, status: wire.StatusCode, ids: dict[str, Any]) -> Any:
    if answer == "start":
        return wire.AuthorizationStart(authorization_status="NotAuthorized", status_code=status, **ids)
    if answer == "stop":
        return wire.AuthorizationStop(authorization_status="NotAuthorized", status_code=status, **ids)
    return wire.Acknowledgement(result=False, status_code=status, **ids)


def _reply(answer: Any, status: int = 200) -> Response:
    return Response(content=wire.encode(answer), status_code=status, media_type=JSON)


_AT = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"missing required field `([^`]*)`")


def _invalid(op: _Operation, raw: bytes, exc: msgspec.DecodeError) -> Response:
    """HTTP 400 for a body that is not JSON or not the operation's schema, answered as the operation answers
    (Result false / NotAuthorized, StatusCode 022, AdditionalInfo: msgspec's message with the field path), with
    Hubject's FaultBody members `message` and `validationErrors` in the same object.

    Why one object with both: Hubject's HTTP 400 is a FaultBody, while an OICP client reads an acknowledgement
    (or authorization) from any answer. Readers that ignore unknown members (msgspec here; Jackson as Spring Boot
    configures it by default) then understand the answer in either shape, and with `message` beside
    `StatusCode` it is an OicpERoamingFault too. A reader refusing unknown members would refuse one of the two
    shapes whichever we chose; no wrapper or second format is added to keep it simple."""
    info = str(exc)
    if not isinstance(exc, msgspec.ValidationError) and not info.startswith("JSON"):
        info = f"JSON is malformed: {info}"  # (msgspec says e.g. "Input data was truncated")
    found = _AT.match(info)
    message, path = (found.group("message"), found.group("path")) if found else (info, None)
    if missing := _MISSING.search(message):  # the field itself, not the object it is missing from
        path = f"{path or '$'}.{missing.group(1)}"
    # msgspec quotes an unknown enum value: everything bounded as AdditionalInfo is
    info, message, path = info[:1000], message[:1000], (path or "$")[:1000]
    body = msgspec.to_builtins(_refusal(op.answer, mapping.status("022", info), _raw_echo(raw)))
    body |= {"message": f"Validation failed: {info}",
             "validationErrors": [{"fieldReference": path, "errorMessage": message}]}
    return Response(content=wire.encode(body), status_code=400, media_type=JSON)


_ECHOED = (("SessionID", "session_id", wire.SessionID), ("CPOPartnerSessionID", "cpo_partner_session_id", wire.PartnerSessionID),
           ("EMPPartnerSessionID", "emp_partner_session_id", wire.PartnerSessionID),
           ("EMPPartnerSessionId", "emp_partner_session_id", wire.PartnerSessionID))


def _raw_echo(raw: bytes) -> dict[str, Any]:
    """The session ids of a body that failed to decode, each only if it is valid itself (best effort)."""
    try:
        doc = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return {}
    ids: dict[str, Any] = {}
    if isinstance(doc, dict):
        for wire_name, name, kind in _ECHOED:
            if wire_name in doc and ids.get(name) is None:
                try:
                    ids[name] = msgspec.convert(doc[wire_name], kind)
                except msgspec.ValidationError:
                    pass
    return ids

"""The partner REST API's operations in the OpenAPI document, described from its msgspec types.

As on the OCPI side, handlers decode raw bytes themselves, so litestar sees neither their bodies nor their
answers: `describe` adds each operation's request body, its success body, the error body of every other
answer, the quota headers, and the security it needs (a Bearer access token, except for the token
endpoints). Every operation under /api/v1 and /oauth must be in OPERATIONS (a KeyError names one that is not).
"""

from __future__ import annotations

import copy
from types import UnionType
from typing import Any, Union, get_args, get_origin

import msgspec

from protocols.partner import auth, partners, resources, webhooks, wire
from protocols.partner.transport import API, VERSIONS

REF = "#/components/schemas/Partner.{name}"
FORM = "application/x-www-form-urlencoded"


class Op(msgspec.Struct, frozen=True):
    body: Any = None  # a Struct; decoded from JSON (or from a form, `form`)
    data: Any = None  # the success body's type
    status: str = "200"
    public: bool = False  # no Bearer token (the token endpoints)
    form: bool = False
    query: tuple[tuple[str, Any, bool], ...] = ()  # (name, type, required)
    error: Any = wire.Error
    idempotent: bool = False  # takes an Idempotency-Key (protocols/partner/idempotency.py)
    optional: bool = False  # the body may be left out


def query(struct: type) -> tuple[tuple[str, Any, bool], ...]:
    """The query parameters of a wire struct: (name, type without its None, required)."""
    out = []
    for f in msgspec.structs.fields(struct):
        args = get_args(f.type) if get_origin(f.type) in (Union, UnionType) else ()
        kept = tuple(a for a in args if a is not type(None))
        type_ = (kept[0] if len(kept) == 1 else Union[kept]) if args else f.type
        out.append((f.encode_name, type_, f.required))
    return tuple(out)


def _reads() -> dict[tuple[str, str], Op]:
    ops = {}
    for res in resources.RESOURCES:
        ops[("GET", f"{API}/{res.entity}")] = Op(data=res.body, query=query(res.query))
        ops[("GET", f"{API}/{res.entity}/{{id}}")] = Op(data=res.item)
    return ops


def _writes() -> dict[tuple[str, str], Op]:
    ops = {}
    for res, create, change in ((resources.SITES, wire.SiteCreate, wire.SitePatch),
                                (resources.CHARGE_POINTS, wire.ChargePointCreate, wire.ChargePointPatch)):
        ops[("POST", f"{API}/{res.entity}")] = Op(create, res.item, status="201", idempotent=True)
        ops[("PATCH", f"{API}/{res.entity}/{{id}}")] = Op(change, res.item)
        ops[("DELETE", f"{API}/{res.entity}/{{id}}")] = Op(status="204")
    tokens = f"{API}/{resources.TOKENS.entity}"
    ops[("POST", tokens)] = Op(wire.ChargeAuthTokenCreate, wire.ChargeAuthToken, status="201", idempotent=True)
    ops[("PATCH", f"{tokens}/{{id}}")] = Op(wire.ChargeAuthTokenPatch, wire.ChargeAuthToken)
    ops[("DELETE", f"{tokens}/{{id}}")] = Op(status="204")
    for action in ("block", "unblock"):
        ops[("POST", f"{tokens}/{{id}}/{action}")] = Op(data=wire.ChargeAuthToken, idempotent=True)
    return ops


def _commands() -> dict[tuple[str, str], Op]:
    charges, point = f"{API}/{resources.CHARGES.entity}", f"{API}/{resources.CHARGE_POINTS.entity}/{{id}}"
    return {
        ("POST", charges): Op(wire.ChargeStart, wire.CommandResult, idempotent=True),
        ("POST", f"{charges}/{{id}}/stop"): Op(data=wire.CommandResult, idempotent=True),
        ("POST", f"{point}/unlock"): Op(data=wire.CommandResult, idempotent=True),
        ("POST", f"{point}/reboot"): Op(wire.Reboot, wire.CommandResult, idempotent=True, optional=True),
        ("POST", f"{point}/set-charging-profile"): Op(wire.ChargingProfileInput, wire.CommandResult, idempotent=True),
    }


IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "description": "the first answer is replayed to a retry with this key for 24 h (the same key with another request: 422)",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 255}}

def _webhooks() -> dict[tuple[str, str], Op]:
    endpoints, one, deliveries = f"{API}/{webhooks.ENDPOINTS}", f"{API}/{webhooks.ENDPOINTS}/{{id}}", f"{API}/{webhooks.DELIVERIES}"
    return {
        ("POST", endpoints): Op(webhooks.EndpointCreate, webhooks.Endpoint, status="201", idempotent=True),
        ("GET", endpoints): Op(data=webhooks.EndpointList, query=query(wire.Paging)),
        ("GET", one): Op(data=webhooks.Endpoint),
        ("PATCH", one): Op(webhooks.EndpointPatch, webhooks.Endpoint),
        ("DELETE", one): Op(status="204"),
        ("POST", f"{one}/test"): Op(data=webhooks.WebhookDelivery, status="201", idempotent=True),
        ("POST", f"{one}/rotate-secret"): Op(data=webhooks.Endpoint, idempotent=True),
        ("GET", deliveries): Op(data=webhooks.DeliveryList, query=query(webhooks.DeliveryQuery)),
        ("GET", f"{deliveries}/{{id}}"): Op(data=webhooks.WebhookDelivery),
        ("POST", f"{deliveries}/{{id}}/replay"): Op(data=webhooks.WebhookDelivery, status="201", idempotent=True),
    }


def _partners() -> dict[tuple[str, str], Op]:
    base = f"{API}/{partners.ENTITY}"
    return {
        ("GET", base): Op(data=partners.PartnerList, query=query(wire.Paging)),
        ("GET", f"{base}/{{id}}"): Op(data=partners.RoamingPartner),
        ("POST", f"{base}/invitations"): Op(partners.InvitationCreate, partners.Invitation, status="201", idempotent=True),
        ("POST", f"{base}/{{id}}/sync"): Op(data=partners.SyncResult),
    }


OPERATIONS: dict[tuple[str, str], Op] = {
    **_reads(),
    **_partners(),
    **_writes(),
    **_commands(),
    **_webhooks(),
    ("POST", f"{API}/auth/token"): Op(auth.TokenRequest, auth.Tokens, public=True),
    ("POST", f"{API}/auth/refresh"): Op(auth.RefreshRequest, auth.Tokens, public=True),
    ("POST", "/oauth/token"): Op(auth.OAuthTokenForm, auth.OAuthToken, public=True, form=True, error=auth.OAuthError),
    ("GET", f"{API}/consumers/me"): Op(data=auth.Me),
}

SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "an access token from /api/v1/auth/token or /oauth/token"},
    "clientBasic": {"type": "http", "scheme": "basic", "description": "client id and secret (RFC 6749 2.3.1), for /oauth/token"},
}

RATE_HEADERS = {
    "RateLimit-Policy": ("string", "`Quota`: a fixed window per credential"),
    "RateLimit-Quota": ("integer", "requests allowed per window"),
    "RateLimit-TimeWindow": ("integer", "the window, in seconds"),
    "RateLimit-Remaining": ("integer", "requests left in this window"),
    "RateLimit-ResetsIn": ("integer", "seconds until the window starts again"),
}


def _schemas() -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    types: list[Any] = []
    for op in OPERATIONS.values():
        types += [op.body, op.data, op.error, *(t for _, t, _ in op.query)]
    types = list(dict.fromkeys(t for t in types if t is not None))
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    return dict(zip(types, schemas)), {f"Partner.{name}": schema for name, schema in components.items()}


SCHEMAS, COMPONENTS = _schemas()


def _headers() -> dict[str, Any]:
    return {name: {"description": text, "schema": {"type": kind}} for name, (kind, text) in RATE_HEADERS.items()}


HUB_VERSION = {"name": "Hub-Version", "in": "header", "required": False,
               "description": "the API version the request is written for (none: the stable one); every answer names its own",
               "schema": {"type": "string", "enum": list(VERSIONS)}}


def _operation(operation: dict[str, Any], op: Op) -> None:
    parameters = operation.get("parameters", []) + [
        {"name": name, "in": "query", "required": required, "schema": SCHEMAS[type_]} for name, type_, required in op.query]
    if not op.form:  # /oauth/token is RFC 6749's, not versioned
        parameters.append(HUB_VERSION)
    if op.idempotent:
        parameters.append(IDEMPOTENCY_KEY)
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {"required": not op.optional, "content": {FORM if op.form else "application/json": {"schema": SCHEMAS[op.body]}}}
    success: dict[str, Any] = {"description": "success", "content": {"application/json": {"schema": SCHEMAS[op.data]}}} if op.data \
        else {"description": "success"}
    error: dict[str, Any] = {"description": "an error: 400 validation, 401 credentials or token, 403 scope, 404, 405, 408, 409 conflict, 413, 422, 429 quota",
                             "content": {"application/json": {"schema": SCHEMAS[op.error]}}}
    version = {"Hub-Version": {"description": "the API version of this answer", "schema": {"type": "string"}}}
    success["headers"] = {**version, **(_headers() if not op.public else {})}
    error["headers"] = dict(success["headers"])
    operation["responses"] = {op.status: success, "default": error}
    if op.form:
        operation["security"] = [{"clientBasic": []}, {}]
    else:
        operation["security"] = [] if op.public else [{"bearerAuth": []}]


def describe(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document with the partner API's operations described."""
    document = copy.deepcopy(document)
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(COMPONENTS)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    for path, item in document["paths"].items():
        if not path.startswith((f"{API}/", "/oauth/")):
            continue
        for method, operation in item.items():
            if method in ("get", "put", "post", "patch", "delete"):
                _operation(operation, OPERATIONS[(method.upper(), path)])
    return document

"""The partner API's write side for charge auth tokens (an eMSP's OCPI Tokens).

A token written here is its eMSP's own: the credential's party must be an eMSP the hub hosts (an admin names one;
one whose tokens come from its own OCPI platform gets 403, as it writes them there), and every write goes through
the core's Objects as the hub's own change (caller None), so it reaches CPOs over OCPI (Token PUT or PATCH) like any
eMSP's. Another party's token is 404, as on reads.

Ids are `{CC}{PID}-{TYPE}-{uid}` (protocols/partner/ids.py): an RFID card and an app account may share a uid.

OCPI has no delete of a Token. DELETE makes it invalid (a PATCH valid=false to CPOs: no charger takes it again) and
marks it deleted for this API (hub/services/extras.py: the owner's mark; every party's partnerExternalId and payload
of it are dropped): the reads no longer list or find it, and PATCH, block, unblock and DELETE answer 404. CPOs keep
it, invalid. Hidden rather than listed as blocked, so that DELETE means to a client what it means for every other
resource. Creating it again (same uid and type) makes it valid and visible once more, as a new token; creating one
that is there and not deleted is 409.
"""

from __future__ import annotations

import msgspec
from litestar import Request, delete, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from hub import model
from hub.model import PartyId
from hub.services import extras
from hub.services.consumers import Consumer
from hub.services.extras import TOKEN_KINDS
from hub.store import documents as docs
from hub.edge import Reply
from protocols.partner import ids, inbound, wire
from protocols.partner.api import Partner
from protocols.partner.idempotency import once
from protocols.partner.resources import TOKENS, Key, rendered_one, token_extras_key
from protocols.partner.transport import API, ApiError, body
from protocols.partner.writes import keep, named_party, target

UNSET = msgspec.UNSET
EMSP = "EMSP"


def _key(owner: PartyId, uid: str, type_: str) -> Key:
    return owner.country_code, owner.party_id, uid.upper(), type_


def _issuer(partner: Partner, owner: PartyId) -> str:
    rows = partner.core.directory.party_rows(owner)
    return rows[0].name if rows else str(owner)


async def _create(request: Request, partner: Partner, consumer: Consumer) -> Reply:
    data = await body(request, wire.ChargeAuthTokenCreate)
    owner = partner.consumers.writer(consumer, named_party(data.party), EMSP)
    token = inbound.token(owner, data, _issuer(partner, owner))
    payload = extras.encode(data.partner_custom_payload)
    key, kind, kept = _key(owner, token.uid, token.type), TOKEN_KINDS[token.type], token_extras_key(token)
    core = partner.core
    # check, then put: Objects.put_token has no create-only mode (sites have put_location(new=True)), so two creates
    # of one token at the same moment both succeed, the later one's fields standing
    rest_id = ids.token(owner, token.type, token.uid)
    if await core.objects.exists(docs.TOKEN, key) and not await core.extras.is_retired(kind, kept):
        raise ApiError("CONFLICT", f"charge auth token {rest_id} exists already", context={"field": "identifier"})
    await core.objects.put_token(None, token)
    await core.extras.revive(kind, kept)  # a deleted token made anew
    await keep(partner, consumer, kind, kept, data.partner_external_id, payload, token.last_updated)
    return partner.ok(request, await rendered_one(partner, consumer, TOKENS, key, rest_id), 201)


async def _patch(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    owner, token = await target(partner, consumer, TOKENS, text, role=EMSP)
    data = await body(request, wire.ChargeAuthTokenPatch)
    changes = inbound.token_changes(token, data)
    payload = extras.encode(data.partner_custom_payload)
    if changes:
        await partner.core.objects.patch_token(None, owner, token.uid, token.type, changes)
    if data.partner_external_id is not UNSET or payload is not UNSET:
        await keep(partner, consumer, TOKEN_KINDS[token.type], token_extras_key(token), data.partner_external_id, payload)
    return partner.ok(request, await rendered_one(partner, consumer, TOKENS, _key(owner, token.uid, token.type), text))


async def _set_valid(partner: Partner, owner: PartyId, token: model.Token, valid: bool, deleted: bool = False) -> None:
    changes = inbound.validity(token, valid)
    if changes or deleted:  # blocking a blocked token changes (and pushes) nothing; deleting it is news
        changes = changes or {"valid": False, "last_updated": inbound.now(token.last_updated)}
        await partner.core.objects.patch_token(None, owner, token.uid, token.type, changes, deleted=deleted)


async def _validity(request: Request, partner: Partner, consumer: Consumer, text: str, valid: bool) -> Reply:
    owner, token = await target(partner, consumer, TOKENS, text, role=EMSP)
    await _set_valid(partner, owner, token, valid)
    return partner.ok(request, await rendered_one(partner, consumer, TOKENS, _key(owner, token.uid, token.type), text))


async def _delete(request: Request, partner: Partner, consumer: Consumer, text: str) -> Reply:
    owner, token = await target(partner, consumer, TOKENS, text, role=EMSP)
    await _set_valid(partner, owner, token, False, deleted=True)  # first: a failure in between leaves it listed, blocked
    await partner.core.extras.retire(TOKEN_KINDS[token.type], token_extras_key(token))
    return partner.no_content(request)


# --- routes --------------------------------------------------------------------------------------------------

ENTITY = TOKENS.entity
ONE = f"{API}/{ENTITY}/{{id:str}}"


@post(f"{API}/{ENTITY}", name="charge_auth_tokens_create", operation_id="create_charge_auth_tokens", status_code=201,
      summary="Create a charge auth token of an eMSP the hub hosts (pushed to CPOs over OCPI)")
async def create_token(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer]) -> Reply:
    partner.need(consumer, ENTITY, "write")
    return await once(request, partner, consumer, lambda: _create(request, partner, consumer))


@patch(ONE, name="charge_auth_tokens_patch", operation_id="patch_charge_auth_tokens", status_code=200,
       summary="Change the given fields of a charge auth token (pushed to CPOs over OCPI)")
async def patch_token(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, ENTITY, "write")
    return await _patch(request, partner, consumer, id)


@post(f"{ONE}/block", name="charge_auth_tokens_block", operation_id="block_charge_auth_tokens", status_code=200,
      summary="Block a charge auth token: it becomes invalid, and chargers refuse it")
async def block_token(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, ENTITY, "write")
    return await once(request, partner, consumer, lambda: _validity(request, partner, consumer, id, False))


@post(f"{ONE}/unblock", name="charge_auth_tokens_unblock", operation_id="unblock_charge_auth_tokens", status_code=200,
      summary="Unblock a charge auth token: it is valid again")
async def unblock_token(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, ENTITY, "write")
    return await once(request, partner, consumer, lambda: _validity(request, partner, consumer, id, True))


# the Reply answers 204 itself (litestar refuses a handler that returns a value with status_code 204)
@delete(ONE, name="charge_auth_tokens_delete", operation_id="delete_charge_auth_tokens", status_code=200,
        summary="Delete a charge auth token: it becomes invalid for CPOs and is no longer listed")
async def delete_token(request: Request, partner: NamedDependency[Partner], consumer: NamedDependency[Consumer], id: FromPath[str]) -> Reply:  # noqa: A002
    partner.need(consumer, ENTITY, "delete")
    return await _delete(request, partner, consumer, id)


HANDLERS = [create_token, patch_token, block_token, unblock_token, delete_token]

"""The partner API's roaming connections (`partners`, admin credentials only) over real HTTP on SQLite and
PostgreSQL: an invitation made over REST is the one a scripted OCPI party registers with, the list shows it with its
parties and status (and never a webhook endpoint, which is a destination of the outbox too), a re-sync pulls from it;
a party's credential and a credential without the scope are refused."""

from __future__ import annotations

from typing import Any

import httpx

from hub.model import PartyId
from hub.store import webhooks as webhook_store
from tests.conftest import Served
from tests.test_partner_auth import _error
from tests.test_partner_writes import _api


async def test_an_admin_invites_a_platform_sees_it_connected_and_syncs_it(served: Served, http: httpx.AsyncClient, make_party: Any) -> None:
    await served.hub.core.parties.ensure_local(PartyId("NL", "GRN"), "CPO", "GreenCharge")
    admin = await _api(served, http, None)
    (consumer,) = await served.hub.core.consumers.listing()  # a webhook endpoint of it: a platform row too, never a partner
    await served.hub.core.db.write(lambda tx: webhook_store.create(tx, consumer.client_id, "https://example.com/hooks", ["*"], "standard",
                                                                    None, served.hub.core.secrets.seal("whsec_x")))
    invitation = await admin.ok("POST", "partners/invitations", {"countryCode": "DE", "partyId": "EMS", "role": "EMSP", "name": "EMS"}, 201)
    assert invitation["versionsUrl"] == f"{served.url}/ocpi/versions" and len(invitation["token"]) >= 32
    listed = (await admin.ok("GET", "partners"))["data"]
    assert [(p["id"], p["status"], p["registered"]) for p in listed] == [(invitation["partnerId"], "PLANNED", False)]

    party = await make_party("DE", "EMS", "EMSP")
    await party.register(invitation["versionsUrl"], invitation["token"])
    shown = await admin.ok("GET", f"partners/{invitation['partnerId']}")
    assert shown["status"] == "CONNECTED" and shown["registered"] and shown["version"] == "2.2.1" and shown["protocol"] == "ocpi"
    assert shown["parties"] == [{"countryCode": "DE", "partyId": "EMS", "role": "EMSP"}] and shown["lastContactAt"]
    synced = await admin.ok("POST", f"partners/{invitation['partnerId']}/sync")
    assert synced["partnerId"] == invitation["partnerId"] and isinstance(synced["pulled"], dict)
    _error(await admin.call("GET", "partners/999"), 404, "RESOURCE_NOT_FOUND")
    body = _error(await admin.call("POST", "partners/invitations", {"countryCode": "NL", "partyId": "GRN", "role": "CPO"}), 400,
                  "VALIDATION_ERROR")
    assert "hosts" in body["message"]  # a party the hub hosts is never given out


async def test_only_an_admin_with_the_scope_sees_the_roaming_connections(served: Served, http: httpx.AsyncClient) -> None:
    grn = PartyId("NL", "GRN")
    await served.hub.core.parties.ensure_local(grn, "CPO", "GreenCharge")
    _error(await (await _api(served, http, grn)).call("GET", "partners"), 403, "ACCESS_FORBIDDEN")
    _error(await (await _api(served, http, None, "sites:read")).call("GET", "partners"), 403, "ACCESS_FORBIDDEN")
    reader = await _api(served, http, None, "partners:read")
    assert (await reader.ok("GET", "partners"))["meta"]["totalItemCount"] == 0
    _error(await reader.call("POST", "partners/invitations", {"countryCode": "DE", "partyId": "EMS", "role": "EMSP"}), 403, "ACCESS_FORBIDDEN")

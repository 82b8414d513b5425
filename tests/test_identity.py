"""Identity is fixed by the hub, not claimed: an invitation says which parties and roles a platform may hold,
nobody can register, claim or address their way into another party's data or traffic, and only the eMSP of a
Session's token may steer or stop its charging. Real OCPI parties over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from connectors import bilateral
from fixtures.ocpi_party import OcpiParty
from hub.model import PartyId
from hub.services.errors import Invalid
from protocols.ocpi import transport as t
from tests import ocpi_data as d
from tests.test_ocpi_bad_input import snapshot
from tests.test_ocpi_e2e import env, eventually

GRN = PartyId("NL", "GRN")  # a CPO the hub hosts


async def _join(served: Any, party: OcpiParty, *also: tuple[PartyId, str]) -> dict[str, str]:
    invite = await bilateral.invite(served.hub.ocpi, PartyId.of(party.country_code, party.party_id), party.role, also=list(also))
    await party.register(invite["versions_url"], invite["token"])
    return invite


async def settled(served: Any) -> dict[str, list]:
    """The store once the outbox has nothing more to deliver."""
    await served.hub.core.dispatcher.drain()
    return await snapshot(served)


def _role(cc: str, pid: str, role: str) -> dict[str, Any]:
    return {"role": role, "country_code": cc, "party_id": pid, "business_details": {"name": f"{cc}{pid}"}}


@pytest.fixture
async def world(served: Any, make_party: Any) -> dict[str, OcpiParty]:
    await served.hub.core.parties.ensure_local(GRN, "CPO", "GreenCharge")
    cpo, emsp = await make_party("DE", "CPO", "CPO"), await make_party("NL", "EMS", "EMSP")
    for party in (cpo, emsp):
        await _join(served, party)
    return {"cpo": cpo, "emsp": emsp}


async def _post_credentials(party: OcpiParty, token_a: str, versions_url: str, roles: list[dict[str, Any]], method: str = "POST") -> Any:
    """A registration (or update) declaring `roles`, whatever the party really is."""
    headers = {"Authorization": t.authorization(token_a)}
    details = (await party.http.get(versions_url, headers=headers)).json()["data"][0]["url"]
    url = next(e["url"] for e in (await party.http.get(details, headers=headers)).json()["data"]["endpoints"] if e["identifier"] == "credentials")
    body = {**msgspec.to_builtins(party.credentials()), "roles": roles}
    return await party.http.request(method, url, content=msgspec.json.encode(body), headers=headers)


@pytest.mark.parametrize("claim", [("NL", "EMS", "EMSP"), ("NL", "EMS", "CPO"), ("DE", "CPO", "EMSP"), ("NL", "GRN", "CPO"), ("NL", "GRN", "EMSP")],
                         ids=["same party and role", "same party, another role", "a CPO's code as eMSP", "a hosted CPO", "a hosted code as eMSP"])
async def test_a_newcomer_cannot_claim_a_party_that_is_held_or_hosted(served: Any, make_party: Any, world: Any, claim: tuple) -> None:
    evil = await make_party("FR", "EVL", "EMSP")
    invite = await bilateral.invite(served.hub.ocpi, PartyId("FR", "EVL"), "EMSP")
    before = await settled(served)
    for roles in ([_role("FR", "EVL", "EMSP"), _role(*claim)], [_role(*claim)]):
        r = await _post_credentials(evil, invite["token"], invite["versions_url"], roles)
        assert (r.status_code, r.json()["status_code"]) == (200, t.INVALID_PARAMETERS), r.text
    assert await settled(served) == before
    holder = served.hub.core.directory.platform_of(PartyId(claim[0], claim[1]))
    assert holder is None or holder.connected and holder.row.token_in_kind == "C"  # still the rightful one (or hosted)
    # and nothing of NL/EMS's reaches the newcomer: it cannot even read with token A
    r = await evil.http.get(f"{served.url}/ocpi/2.2.1/sender/sessions", params={"date_from": "2020-01-01T00:00:00Z"},
                            headers={"Authorization": t.authorization(invite["token"])})
    assert r.status_code == 401


async def test_a_code_taken_after_the_invitation_cannot_be_claimed(served: Any, make_party: Any, world: Any) -> None:
    """The check at registration runs again in the registration's transaction: what the invitation allowed
    may have been handed to someone else since."""
    evil = await make_party("FR", "EVL", "EMSP")
    invite = await bilateral.invite(served.hub.ocpi, PartyId("FR", "EVL"), "EMSP", also=[(PartyId("BE", "XYZ"), "EMSP")])
    rightful = await make_party("BE", "XYZ", "EMSP")
    await _join(served, rightful)  # the operator gave BE/XYZ to its real owner: the unused invitation lost it
    before = await settled(served)
    r = await _post_credentials(evil, invite["token"], invite["versions_url"], [_role("FR", "EVL", "EMSP"), _role("BE", "XYZ", "EMSP")])
    assert (r.status_code, r.json()["status_code"]) == (200, t.INVALID_PARAMETERS), r.text
    assert "held by another platform" in r.json()["status_message"]
    assert await settled(served) == before


async def test_an_invitation_cannot_hand_out_a_held_or_hosted_code(served: Any, world: Any) -> None:
    ocpi = served.hub.ocpi
    with pytest.raises(Invalid, match="held by platform"):
        await bilateral.invite(ocpi, PartyId("NL", "EMS"), "CPO")
    with pytest.raises(Invalid, match="hosts"):
        await bilateral.invite(ocpi, GRN, "EMSP")
    with pytest.raises(Invalid, match="hosts"):
        await bilateral.invite(ocpi, PartyId("FR", "NEW"), "EMSP", also=[(GRN, "CPO")])


async def test_a_registration_declares_only_what_the_invitation_allows(served: Any, make_party: Any, world: Any) -> None:
    evil = await make_party("FR", "EVL", "EMSP")
    invite = await bilateral.invite(served.hub.ocpi, PartyId("FR", "EVL"), "EMSP")
    before = await settled(served)
    for roles in ([_role("FR", "EVL", "EMSP"), _role("FR", "EVL", "CPO")],  # a role it was not invited for
                  [_role("FR", "EVL", "EMSP"), _role("BE", "FRE", "EMSP")],  # a party nobody holds, not invited either
                  [_role("BE", "FRE", "CPO")]):
        r = await _post_credentials(evil, invite["token"], invite["versions_url"], roles)
        assert (r.status_code, r.json()["status_code"]) == (200, t.INVALID_PARAMETERS), r.text
        assert "not allowed" in r.json()["status_message"]
    assert await settled(served) == before
    # what it was invited for works, and afterwards a PUT cannot add anything either
    await evil.register(invite["versions_url"], invite["token"])
    platform = served.hub.core.directory.platform_of(PartyId("FR", "EVL"))
    assert platform is not None and set(platform.roles) == {(PartyId("FR", "EVL"), "EMSP")}
    r = await _post_credentials(evil, evil.hub_token or "", invite["versions_url"], [_role("FR", "EVL", "EMSP"), _role("NL", "EMS", "EMSP")], "PUT")
    assert (r.status_code, r.json()["status_code"]) == (200, t.INVALID_PARAMETERS), r.text
    r = await _post_credentials(evil, evil.hub_token or "", invite["versions_url"], [_role("FR", "EVL", "EMSP"), _role("FR", "EVL", "CPO")], "PUT")
    assert (r.status_code, r.json()["status_code"]) == (200, t.INVALID_PARAMETERS), r.text
    platform = served.hub.core.directory.platform_of(PartyId("FR", "EVL"))
    assert platform is not None and set(platform.roles) == {(PartyId("FR", "EVL"), "EMSP")}
    assert served.hub.core.directory.platform_of(PartyId("NL", "EMS")).id != platform.id  # type: ignore[union-attr]


async def test_an_invitation_with_several_roles(served: Any, make_party: Any, world: Any) -> None:
    both = await make_party("BE", "TWO", "EMSP")
    await _join(served, both, (PartyId("BE", "TWO"), "CPO"))
    platform = served.hub.core.directory.platform_of(PartyId("BE", "TWO"))
    assert platform is not None and platform.row.claims == {(PartyId("BE", "TWO"), "EMSP"), (PartyId("BE", "TWO"), "CPO")}
    assert set(platform.roles) == {(PartyId("BE", "TWO"), "EMSP")}  # it may hold fewer than it may claim


async def test_an_unused_invitation_is_replaced_and_its_token_dies(served: Any, make_party: Any, world: Any) -> None:
    late = await make_party("BE", "LAT", "EMSP")
    first = await bilateral.invite(served.hub.ocpi, PartyId("BE", "LAT"), "EMSP")
    second = await bilateral.invite(served.hub.ocpi, PartyId("BE", "LAT"), "EMSP")
    with pytest.raises(Exception):
        await late.register(first["versions_url"], first["token"])
    await late.register(second["versions_url"], second["token"])
    assert served.hub.core.directory.platform_of(PartyId("BE", "LAT")).connected  # type: ignore[union-attr]


async def test_the_hub_cannot_host_a_party_another_platform_speaks_for(served: Any, world: Any) -> None:
    with pytest.raises(Invalid, match="another platform"):
        await served.hub.core.charging.add("EVIL-1", PartyId("NL", "EMS"), "LOC1", None)


async def test_an_outgoing_registration_is_held_to_the_operators_claims(served: Any, make_party: Any, world: Any) -> None:
    peer = await make_party("SE", "PER", "CPO")
    with pytest.raises(Exception, match="not allowed"):
        await bilateral.register(served.hub.ocpi, f"{peer.url}/versions", peer.invite_hub(), claims=[(PartyId("SE", "OTH"), "CPO")])
    assert served.hub.core.directory.platform_of(PartyId("SE", "PER")) is None
    assert not [p for p in served.hub.core.directory.platforms() if p.row.name.endswith("/versions")]
    platform = await bilateral.register(served.hub.ocpi, f"{peer.url}/versions", peer.invite_hub())
    assert platform.row.claims == {(PartyId("SE", "PER"), "CPO")}  # what it declared, fixed from now on


# --- charging profiles and unlocking: only the eMSP of the session's token ----------------------------------------------


PROFILE = {"charging_profile": {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 0.0}]}}


async def test_charging_profiles_of_another_emsps_session_are_refused(served: Any, make_party: Any, world: Any) -> None:
    cpo, emsp = world["cpo"], world["emsp"]
    other = await make_party("FR", "OTH", "EMSP")
    await _join(served, other)
    await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC1", msgspec.json.encode(d.location()), to="NL/HUB")
    await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S1", msgspec.json.encode(d.session()), to="NL/HUB")  # NL/EMS's token
    before = len(cpo.received["chargingprofiles"])
    for method, body, params in (("PUT", {**PROFILE, "response_url": f"{other.url}/r/1"}, None),
                                 ("GET", None, {"duration": "60", "response_url": f"{other.url}/r/2"}),
                                 ("DELETE", None, {"response_url": f"{other.url}/r/3"})):
        for to in (None, "DE/CPO"):  # open routing, and addressed to the CPO
            r = await other.send(method, "chargingprofiles", "RECEIVER", "S1", msgspec.json.encode(body) if body else None, to=to, params=params)
            assert env(r)["status_code"] == 1000 and env(r)["data"]["result"] == "UNKNOWN_SESSION", (method, to, r.text)
    assert len(cpo.received["chargingprofiles"]) == before  # nothing reached the CPO
    # the session's own eMSP may
    r = await emsp.send("PUT", "chargingprofiles", "RECEIVER", "S1", msgspec.json.encode({**PROFILE, "response_url": f"{emsp.url}/r/1"}))
    assert env(r)["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: len(cpo.received["chargingprofiles"]) == before + 1)


async def test_unlock_during_another_emsps_session_is_rejected(served: Any, make_party: Any, world: Any) -> None:
    cpo, emsp = world["cpo"], world["emsp"]
    other = await make_party("FR", "OTH", "EMSP")
    await _join(served, other)
    await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/LOC1", msgspec.json.encode(d.location()), to="NL/HUB")
    await cpo.send("PUT", "sessions", "RECEIVER", "DE/CPO/S1", msgspec.json.encode(d.session()), to="NL/HUB")  # ACTIVE at LOC1-1
    body = {"response_url": f"{other.url}/r/9", "location_id": "LOC1", "evse_uid": "LOC1-1", "connector_id": "1"}
    r = await other.send("POST", "commands", "RECEIVER", "UNLOCK_CONNECTOR", msgspec.json.encode(body))
    assert env(r)["status_code"] == 1000 and env(r)["data"]["result"] == "REJECTED", r.text
    assert not cpo.received["commands"]
    # the driver's own eMSP may
    r = await emsp.send("POST", "commands", "RECEIVER", "UNLOCK_CONNECTOR", msgspec.json.encode({**body, "response_url": f"{emsp.url}/r/9"}))
    assert env(r)["data"]["result"] == "ACCEPTED", r.text
    await eventually(lambda: cpo.received["commands"])
    # once the session is over, any eMSP that sees the Location may (a stuck cable)
    await cpo.send("PATCH", "sessions", "RECEIVER", "DE/CPO/S1", msgspec.json.encode({"status": "COMPLETED", "last_updated": "2026-03-01T12:00:00Z"}))
    r = await other.send("POST", "commands", "RECEIVER", "UNLOCK_CONNECTOR", msgspec.json.encode(body))
    assert env(r)["data"]["result"] == "ACCEPTED", r.text


async def test_commands_at_a_location_the_emsp_may_not_see_are_unknown(served: Any, make_party: Any, world: Any) -> None:
    cpo, emsp = world["cpo"], world["emsp"]
    hidden = {**msgspec.json.decode(msgspec.json.encode(d.location(lid="HID1"))), "publish": False}
    await cpo.send("PUT", "locations", "RECEIVER", "DE/CPO/HID1", msgspec.json.encode(hidden), to="NL/HUB")
    body = {"response_url": f"{emsp.url}/r/1", "token": d.token(), "location_id": "HID1", "evse_uid": "HID1-1"}
    r = await emsp.send("POST", "commands", "RECEIVER", "START_SESSION", msgspec.json.encode(body))
    assert env(r)["status_code"] == t.UNKNOWN_LOCATION and env(r)["data"]["result"] == "REJECTED", r.text
    assert not cpo.received["commands"]


# --- secrets at rest ------------------------------------------------------------------------------------------------------


async def test_tokens_the_hub_presents_are_encrypted_at_rest(served: Any, world: Any) -> None:
    import sqlalchemy as sa

    from hub.app import Hub
    from hub.store import schema
    from hub.store.secrets import SecretKeyError

    emsp = world["emsp"]
    P = schema.platforms

    def stored(conn: sa.Connection) -> list[tuple[int, str | None, str | None]]:
        return [tuple(r) for r in conn.execute(sa.select(P.c.id, P.c.token_out, P.c.token_in_hash).order_by(P.c.id))]

    rows = await served.hub.core.db.read(stored)
    outgoing = [r[1] for r in rows if r[1]]
    assert outgoing and all(v.startswith("enc1:") for v in outgoing)
    assert not any(emsp.my_token in v or world["cpo"].my_token in v for v in outgoing)
    assert all(r[2] is None or len(r[2]) == 64 for r in rows)  # incoming tokens: hashes only
    # the hub still uses them: a push reaches the eMSP
    await world["cpo"].send("PUT", "locations", "RECEIVER", "DE/CPO/LOC1", msgspec.json.encode(d.location()), to="NL/HUB")
    await eventually(lambda: "DE/CPO/LOC1" in emsp.objects["locations"])
    # a token stored in plain text before encryption existed is sealed when a hub starts
    platform_id = served.hub.core.directory.platform_of(PartyId("NL", "EMS")).id  # type: ignore[union-attr]
    await served.hub.core.db.write(lambda tx: tx.execute(sa.update(P).where(P.c.id == platform_id).values(token_out=emsp.my_token)))
    other = Hub(served.settings)
    await other.start(serve=False)
    try:
        assert other.core.directory.platform(platform_id).row.token_out == emsp.my_token  # type: ignore[union-attr]
    finally:
        await other.stop()
    (value,) = [r[1] for r in await served.hub.core.db.read(stored) if r[0] == platform_id]
    assert value.startswith("enc1:") and emsp.my_token not in value
    # and a hub with another key says so instead of calling parties with garbage
    wrong = Hub(msgspec.structs.replace(served.settings, secret_key="another-key-of-thirty-two-characters"))
    with pytest.raises(SecretKeyError, match="HUB_SECRET_KEY"):
        await wrong.start(serve=False)
    await wrong.core.db.close()

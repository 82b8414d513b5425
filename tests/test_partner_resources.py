"""The partner REST API's read side (sites, charge points, charges, CDRs, tariffs, charge auth tokens) over real
HTTP against a served hub on SQLite and PostgreSQL, with data stored through the core's real paths: what each
credential's party may see, pages and their meta, the CDR cursor, filters, scopes and 404s."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fixtures import generate
from hub import model
from hub.model import PartyId
from hub.store import documents as docs
from hub.store.chargers import ConnectorTemplate
from hub.store.migrate import upgrade
from protocols.partner import mapping
from tests.conftest import Served
from tests.test_partner_auth import _bearer, _error, _tokens

GRN, OTH = PartyId("NL", "GRN"), PartyId("NL", "OTH")  # CPOs the hub hosts
EMS, EM2 = PartyId("DE", "EMS"), PartyId("DE", "EM2")  # eMSPs the hub hosts
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
RESOURCES = ("sites", "charge-points", "charges", "cdrs", "tariffs", "charge-auth-tokens")



@pytest.fixture
async def parties(served: Served) -> None:
    for party, role in ((GRN, "CPO"), (OTH, "CPO"), (EMS, "EMSP"), (EM2, "EMSP")):
        await served.hub.core.parties.ensure_local(party, role, str(party))


class Api:
    """One credential's view of the API."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.headers = http, _bearer(token)

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(f"/api/v1/{path}", params=params, headers=self.headers)

    async def ok(self, path: str, **params: Any) -> Any:
        r = await self.get(path, **params)
        assert r.status_code == 200, r.text
        return r.json()

    async def ids(self, path: str, **params: Any) -> list[str]:
        """Every id of a list, page after page."""
        out: list[str] = []
        for page in range(100):
            body = await self.ok(path, page=page, perPage=100, **params)
            out += [item["id"] for item in body["data"]]
            if page + 1 >= body["meta"]["totalPageCount"]:
                return out
        raise AssertionError("too many pages")


async def _api(served: Served, http: httpx.AsyncClient, party: PartyId | None, scopes: str = "all:read") -> Api:
    client_id, secret = await served.hub.core.consumers.create(party, scopes, admin=party is None)
    return Api(http, (await _tokens(http, client_id, secret))["accessToken"])


async def _sites(served: Served, owner: PartyId, count: int) -> list[model.Location]:
    locs = generate.locations(owner, count, evses=(2, 2))
    for loc in locs:
        await served.hub.core.objects.put_location(None, loc)
    return locs


def _session(sid: str, emsp: PartyId, *, cpo: PartyId = GRN, status: str = "ACTIVE", start: datetime = T0,
             end: datetime | None = None, location: str = "LOC000000", evse: str = "LOC000000-1") -> model.Session:
    return model.Session(
        country_code=cpo.country_code, party_id=cpo.party_id, id=sid, start_date_time=start, end_date_time=end,
        kwh=Decimal("7.5"), cdr_token=model.CdrToken(emsp.country_code, emsp.party_id, f"UID-{sid}", "RFID", f"{emsp.party_id}-C-{sid}"),
        auth_method="WHITELIST", location_id=location, evse_uid=evse, connector_id="1", currency="EUR",
        status=status, last_updated=end or start,  # type: ignore[arg-type]
    )


def _cdr(cid: str, emsp: PartyId, *, cpo: PartyId = GRN) -> model.Cdr:
    return model.Cdr(
        country_code=cpo.country_code, party_id=cpo.party_id, id=cid, start_date_time=T0, end_date_time=T0 + timedelta(hours=1),
        cdr_token=model.CdrToken(emsp.country_code, emsp.party_id, f"UID-{cid}", "RFID", f"{emsp.party_id}-C-{cid}"),
        auth_method="WHITELIST",
        cdr_location=model.CdrLocation(
            id="LOC000000", address="Stationsplein 1", city="Amsterdam", country="NLD",
            coordinates=model.GeoPoint(Decimal("52.37"), Decimal("4.90")), evse_uid="LOC000000-1", evse_id="NL*GRN*E1",
            connector_id="1", connector_standard="IEC_62196_T2", connector_format="SOCKET", connector_power_type="AC_3_PHASE"),
        currency="EUR", charging_periods=[model.ChargingPeriod(T0, [model.CdrDimension("ENERGY", Decimal("10"))])], total_cost=model.Price(Decimal("3.50"), Decimal("4.24")),
        total_energy=Decimal("10"), total_time=Decimal("1"), last_updated=T0 + timedelta(hours=1), session_id=f"S-{cid}",
    )


# --- sites ---------------------------------------------------------------------------------------------------


async def test_sites_page_by_page_with_meta(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    await _sites(served, GRN, 25)
    await _sites(served, OTH, 2)
    api = await _api(served, http, GRN)
    seen = []
    for page, count in ((0, 10), (1, 10), (2, 5)):
        body = await api.ok("sites", page=page, perPage=10)
        assert body["meta"] == {"currentPage": page, "perPage": 10, "itemCount": count, "totalPageCount": 3, "totalItemCount": 25}
        seen += [s["id"] for s in body["data"]]
    assert len(set(seen)) == 25 and all(i.startswith("NLGRN-") for i in seen)
    past = await api.ok("sites", page=3, perPage=10)
    assert past["data"] == [] and past["meta"]["itemCount"] == 0 and past["meta"]["totalItemCount"] == 25
    default = await api.ok("sites")
    assert default["meta"]["perPage"] == 10 and default["meta"]["currentPage"] == 0
    for params, field in (({"perPage": 101}, "perPage"), ({"perPage": 0}, "perPage"), ({"page": -1}, "page"), ({"page": "x"}, "page")):
        body = _error(await api.get("sites", **params), 400, "VALIDATION_ERROR")
        assert body["context"] == {"field": field}, body


async def test_a_site_with_its_charge_point_count_and_numbers(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    (loc,) = await _sites(served, GRN, 1)
    site = await (await _api(served, http, GRN)).ok("sites/NLGRN-LOC000000")
    assert site["id"] == "NLGRN-LOC000000" and site["name"] == loc.name and site["chargePointCount"] == 2
    assert site["location"]["coordinates"]["latitude"] == float(loc.coordinates.latitude)
    assert site["ocpi"] == {"countryCode": "NL", "partyId": "GRN", "locationId": "LOC000000"}
    assert {"createdAt", "updatedAt", "partnerExternalId", "partnerCustomPayload"} <= set(site)


async def test_a_party_sees_its_own_sites_and_what_its_agreements_allow(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    await _sites(served, GRN, 3)
    await _sites(served, OTH, 2)
    grn, oth, emsp, admin = [await _api(served, http, p) for p in (GRN, OTH, EMS, None)]
    assert len(await grn.ids("sites")) == 3 and len(await oth.ids("sites")) == 2
    # another CPO's site is not found, whatever the id
    for text in ("NLGRN-LOC000000", "NLGRN-NOPE", "garbage", "NLGRN-"):
        _error(await oth.get(f"sites/{text}"), 404, "RESOURCE_NOT_FOUND")
    assert served.settings.roaming_policy == "open"  # an eMSP reads every CPO's published sites
    assert sorted(await emsp.ids("sites")) == sorted(await admin.ids("sites")) and len(await admin.ids("sites")) == 5
    assert (await emsp.ok("sites/NLOTH-LOC000001"))["ocpi"]["partyId"] == "OTH"


# --- charge points ------------------------------------------------------------------------------------------


async def test_charge_points_one_per_evse_with_the_charger_of_the_central_system(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    await _sites(served, GRN, 2)  # 2 EVSEs each
    core = served.hub.core
    site = generate.locations(GRN, 3, evses=(0, 0))[2]  # LOC000002: the charger's EVSEs come from OCPP
    await core.charging.add("cp-7", GRN, site, connector=ConnectorTemplate(max_electric_power=11_000))
    await core.charging.connected("cp-7", "ocpp1.6")
    await core.charging.status("cp-7", 1, 1, "AVAILABLE")
    await core.charging.status("cp-7", 2, 1, "CHARGING")
    api = await _api(served, http, GRN)
    body = await api.ok("charge-points", perPage=100)
    assert body["meta"]["totalItemCount"] == 6
    points = {p["id"]: p for p in body["data"]}
    one = points["NLGRN-CP-7-1"]
    assert one["siteId"] == "NLGRN-LOC000002" and one["state"] == "available" and one["ocpiStatus"] == "AVAILABLE"
    assert one["ocpp"]["identity"] == "cp-7" and one["ocpp"]["connectorId"] == 1 and one["ocpp"]["connected"] is True
    assert one["ocpp"]["lastConnectedAt"] and one["connectors"][0]["maxKw"] == 11.0
    assert points["NLGRN-CP-7-2"]["ocpp"]["connectorId"] == 2 and points["NLGRN-CP-7-2"]["state"] == "busy-charging"
    assert points["NLGRN-LOC000000-1"]["ocpp"] is None  # a roaming EVSE
    assert await api.ok("charge-points/NLGRN-CP-7-2") == points["NLGRN-CP-7-2"]
    # filters
    assert sorted(await api.ids("charge-points", siteId="NLGRN-LOC000002")) == ["NLGRN-CP-7-1", "NLGRN-CP-7-2"]
    assert "NLGRN-CP-7-1" in await api.ids("charge-points", state="available")
    assert await api.ids("charge-points", state="busy-charging", siteId="NLGRN-LOC000002") == ["NLGRN-CP-7-2"]
    assert await api.ids("charge-points", state="disconnected") == []
    # the charger goes away: its EVSEs are disconnected at once, whatever their last status
    await core.charging.disconnected("cp-7")
    assert sorted(await api.ids("charge-points", state="disconnected")) == ["NLGRN-CP-7-1", "NLGRN-CP-7-2"]
    assert "NLGRN-CP-7-1" not in await api.ids("charge-points", state="available")
    off = await api.ok("charge-points/NLGRN-CP-7-1")
    assert off["state"] == "disconnected" and off["ocpp"]["connected"] is False
    body = _error(await api.get("charge-points", siteId="not an id"), 400, "VALIDATION_ERROR")
    assert body["context"] == {"field": "siteId"}
    _error(await api.get("charge-points", state="sleeping"), 400, "VALIDATION_ERROR")
    # another CPO
    oth = await _api(served, http, OTH)
    assert await oth.ids("charge-points") == []
    _error(await oth.get("charge-points/NLGRN-CP-7-1"), 404, "RESOURCE_NOT_FOUND")


async def test_a_removed_evse_is_no_charge_point(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    await _sites(served, GRN, 1)
    await served.hub.core.objects.patch_location(None, GRN, "LOC000000", {"status": "REMOVED", "last_updated": T0}, evse_uid="LOC000000-2")
    api = await _api(served, http, GRN)
    assert await api.ids("charge-points") == ["NLGRN-LOC000000-1"]
    _error(await api.get("charge-points/NLGRN-LOC000000-2"), 404, "RESOURCE_NOT_FOUND")
    assert (await api.ok("sites/NLGRN-LOC000000"))["chargePointCount"] == 1


# --- charges -------------------------------------------------------------------------------------------------


async def test_charges_an_emsp_sees_only_its_own_tokens(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    await _sites(served, GRN, 2)
    objects = served.hub.core.objects
    await objects.put_session(None, _session("S1", EMS, start=T0))
    await objects.put_session(None, _session("S2", EMS, start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2)))
    await objects.put_session(None, _session("S3", EMS, status="COMPLETED", start=T0 + timedelta(hours=2), end=T0 + timedelta(hours=3),
                                             location="LOC000001", evse="LOC000001-2"))
    await objects.put_session(None, _session("S4", EM2, start=T0 + timedelta(hours=3)))
    ems, em2, grn, oth, admin = [await _api(served, http, p) for p in (EMS, EM2, GRN, OTH, None)]
    assert await ems.ids("charges") == ["NLGRN-S3", "NLGRN-S2", "NLGRN-S1"]  # the latest start first
    assert await em2.ids("charges") == ["NLGRN-S4"]
    assert len(await grn.ids("charges")) == 4 and len(await admin.ids("charges")) == 4 and await oth.ids("charges") == []
    one = await ems.ok("charges/NLGRN-S2")
    assert (one["state"], one["chargePointId"], one["siteId"]) == ("stopped", "NLGRN-LOC000000-1", "NLGRN-LOC000000")
    assert one["chargeAuth"] == {"type": "rfid", "id": "UID-S2"} and one["consumedKwh"] == 7.5
    for api in (em2, oth):
        _error(await api.get("charges/NLGRN-S1"), 404, "RESOURCE_NOT_FOUND")
    # filters
    assert await ems.ids("charges", state="charging") == ["NLGRN-S1"]
    assert await ems.ids("charges", state="stopped") == ["NLGRN-S2"]
    assert await ems.ids("charges", state="completed") == ["NLGRN-S3"]
    assert await ems.ids("charges", siteId="NLGRN-LOC000001") == ["NLGRN-S3"]
    assert await ems.ids("charges", chargePointId="NLGRN-LOC000000-1") == ["NLGRN-S2", "NLGRN-S1"]
    window = {"fromDate": "2026-03-01T11:00:00Z", "toDate": "2026-03-01T13:00:00Z"}
    assert await grn.ids("charges", **window) == ["NLGRN-S3", "NLGRN-S2"]
    assert await grn.ids("charges", fromDate="2026-03-01T11:00:00") == ["NLGRN-S4", "NLGRN-S3", "NLGRN-S2"]  # no offset: UTC
    body = _error(await grn.get("charges", fromDate="yesterday"), 400, "VALIDATION_ERROR")
    assert body["context"] == {"field": "fromDate"}
    assert _error(await grn.get("charges", chargePointId="x"), 400, "VALIDATION_ERROR")["context"] == {"field": "chargePointId"}


async def test_a_charge_on_a_charger_of_the_central_system_and_its_cdr(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    """A transaction through the core's OCPP paths: a live charge, then completed, and its CDR for the eMSP."""
    core = served.hub.core
    token = generate.token(EMS, 1)
    await core.objects.put_token(None, token)
    await core.charging.add("cp-9", GRN, generate.locations(GRN, 1, evses=(0, 0))[0])
    await core.charging.connected("cp-9", "ocpp1.6")
    await core.charging.status("cp-9", 1, 1, "AVAILABLE")
    start = datetime.now(timezone.utc).replace(microsecond=0)
    ocpp_id, auth = await core.charging.start("cp-9", 1, 1, token.uid, "RFID", Decimal(1000), start)
    assert auth.allowed == "ALLOWED"
    ems = await _api(served, http, EMS)
    (charge,) = (await ems.ok("charges"))["data"]
    assert charge["state"] == "charging" and charge["chargePointId"] == "NLGRN-CP-9-1" and charge["chargeAuth"]["id"] == token.uid
    await core.charging.stop("cp-9", ocpp_id, Decimal(8500), start + timedelta(minutes=30), [])
    done = await ems.ok(f"charges/{charge['id']}")
    assert done["state"] == "completed" and done["consumedKwh"] == 7.5 and done["stoppedAt"]
    (cdr,) = (await ems.ok("cdrs"))["data"]
    assert cdr["chargeId"] == charge["id"] and cdr["consumedKwh"] == 7.5 and cdr["chargePointId"] == "NLGRN-CP-9-1"
    assert await ems.ok(f"cdrs/{cdr['id']}") == cdr
    em2 = await _api(served, http, EM2)
    _error(await em2.get(f"charges/{charge['id']}"), 404, "RESOURCE_NOT_FOUND")
    _error(await em2.get(f"cdrs/{cdr['id']}"), 404, "RESOURCE_NOT_FOUND")


# --- CDRs ----------------------------------------------------------------------------------------------------


async def test_the_cdr_cursor_walks_every_cdr_exactly_once(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    objects = served.hub.core.objects
    mine = [f"C{n:02d}" for n in range(15)]
    for n in range(23):
        await objects.post_cdr(None, _cdr(f"C{n:02d}", EMS if n < 15 else EM2))
    ems, admin = await _api(served, http, EMS), await _api(served, http, None)

    async def walk(api: Api, limit: int, cursor: str | None = None) -> tuple[list[str], str | None]:
        seen: list[str] = []
        for _ in range(50):
            body = await api.ok("cdrs", limit=limit, **({"cursor": cursor} if cursor else {}))
            assert set(body["meta"]) == {"after", "hasMore"} and len(body["data"]) <= limit
            seen += [c["id"] for c in body["data"]]
            cursor = body["meta"]["after"]
            if not body["meta"]["hasMore"]:
                return seen, cursor
        raise AssertionError("the feed never ends")

    assert (await walk(ems, 4))[0] == [f"NLGRN-{c}" for c in mine]  # in the order they were stored
    assert (await walk(ems, 15))[0] == [f"NLGRN-{c}" for c in mine]  # a full last page: no more
    everything, at_end = await walk(admin, 7)
    assert len(everything) == len(set(everything)) == 23
    first = await ems.ok("cdrs")
    assert len(first["data"]) == 10 and first["meta"]["after"] and first["meta"]["hasMore"]
    whole = await ems.ok("cdrs", limit=100)
    assert len(whole["data"]) == 15 and not whole["meta"]["hasMore"]
    # the feed is followed from where it ended: an empty page keeps the cursor, a new CDR comes after it
    again = await admin.ok("cdrs", cursor=at_end)
    assert again["data"] == [] and again["meta"] == {"after": at_end, "hasMore": False}
    await objects.post_cdr(None, _cdr("C99", EMS))
    assert (await walk(admin, 7, at_end))[0] == ["NLGRN-C99"]
    assert (await ems.ok("cdrs", limit=100, cursor=whole["meta"]["after"]))["data"][0]["id"] == "NLGRN-C99"
    assert (await (await _api(served, http, EM2)).ok("cdrs", limit=100))["meta"]["after"]  # EM2's own 8
    for params, field in (({"limit": 101}, "limit"), ({"limit": 0}, "limit"), ({"cursor": "not-a-cursor!"}, "cursor"), ({"cursor": "e30"}, "cursor")):
        assert _error(await ems.get("cdrs", **params), 400, "VALIDATION_ERROR")["context"] == {"field": field}
    em2 = await _api(served, http, EM2)
    _error(await em2.get("cdrs/NLGRN-C00"), 404, "RESOURCE_NOT_FOUND")
    assert (await em2.ok("cdrs/NLGRN-C20"))["chargeAuth"]["id"] == "UID-C20"
    cdr = await ems.ok("cdrs/NLGRN-C03")
    assert cdr["totalCost"] == {"amount": 424, "currency": {"identifier": "EUR", "decimals": 2}}
    assert cdr["totalCostExclVat"]["amount"] == 350


# --- tariffs and tokens --------------------------------------------------------------------------------------


async def test_tariffs_and_charge_auth_tokens(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    objects = served.hub.core.objects
    for tariff in generate.tariffs(GRN):
        await objects.put_tariff(None, tariff)
    for token in generate.tokens(EMS, 3) + generate.tokens(EM2, 2):
        await objects.put_token(None, token)
    grn, oth, ems, em2 = [await _api(served, http, p) for p in (GRN, OTH, EMS, EM2)]
    assert await grn.ids("tariffs") == ["NLGRN-AC1", "NLGRN-DC1"] and await oth.ids("tariffs") == []
    _error(await oth.get("tariffs/NLGRN-AC1"), 404, "RESOURCE_NOT_FOUND")
    dc = await ems.ok("tariffs/NLGRN-DC1")  # CPO data an eMSP reads under the open policy
    assert dc["currency"] == {"identifier": "EUR", "decimals": 2} and dc["elements"][0]["priceComponents"][1]["price"]["amount"] == 59
    mine = await ems.ids("charge-auth-tokens")
    assert len(mine) == 3 and all(i.startswith("DEEMS-") for i in mine)
    token = await ems.ok(f"charge-auth-tokens/{mine[0]}")
    assert token["type"] == "rfid" and token["blocked"] is False and token["ocpi"]["partyId"] == "EMS"
    _error(await em2.get(f"charge-auth-tokens/{mine[0]}"), 404, "RESOURCE_NOT_FOUND")
    assert len(await grn.ids("charge-auth-tokens")) == 5  # a CPO reads the tokens of eMSPs it has agreements with


# --- scopes ----------------------------------------------------------------------------------------------------


async def test_a_missing_scope_is_403_before_anything_else(served: Served, http: httpx.AsyncClient, parties: None) -> None:
    await _sites(served, GRN, 1)
    api = await _api(served, http, GRN, scopes="sites:read")
    assert len(await api.ids("sites")) == 1
    for resource in RESOURCES[1:]:
        for path in (resource, f"{resource}/NLGRN-LOC000000-1", f"{resource}/garbage"):
            body = _error(await api.get(path), 403, "ACCESS_FORBIDDEN")
            assert body["context"] == {"scope": f"{resource}:read"}
    writer = await _api(served, http, GRN, scopes="charges:write")  # write includes read
    assert (await writer.ok("charges"))["data"] == []
    _error(await writer.get("sites"), 403, "ACCESS_FORBIDDEN")


async def test_the_openapi_document_has_the_read_operations_with_query_parameters(served: Served, http: httpx.AsyncClient) -> None:
    paths = (await http.get("/schema/openapi.json")).json()["paths"]
    for resource in RESOURCES:
        assert paths[f"/api/v1/{resource}"]["get"]["security"] == [{"bearerAuth": []}]
        assert "200" in paths[f"/api/v1/{resource}/{{id}}"]["get"]["responses"]
    params = {p["name"]: p["schema"] for p in paths["/api/v1/charges"]["get"]["parameters"]}
    assert params["perPage"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert params["fromDate"] == {"type": "string", "format": "date-time"} and "enum" in params["state"]
    cdr_params = paths["/api/v1/cdrs"]["get"]["parameters"]
    assert {p["name"] for p in cdr_params if p["in"] == "query"} == {"cursor", "limit"}
    assert {p["name"] for p in cdr_params if p["in"] == "header"} == {"Hub-Version"}


# --- filters and the store --------------------------------------------------------------------------------------


def test_the_state_filters_invert_the_state_mappings() -> None:
    statuses = list(mapping.CHARGE_POINT_STATES)
    for state in ("available", "busy-charging", "passive", "error", "disconnected", "busy", "other"):
        wanted, offline = mapping.charge_point_query(state)  # type: ignore[arg-type]
        for status in statuses:
            for connected in (True, False, None):
                matches = (status in wanted and connected is not False) or (offline and connected is False)
                assert matches == (mapping.charge_point_state(status, connected) == state), (state, status, connected)
    for state in ("starting", "charging", "stopped", "completed", "failed"):
        wanted, stopped = mapping.charge_query(state)  # type: ignore[arg-type]
        for status in ("ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"):
            for end in (None, T0):
                session = _session("S", EMS, status=status, end=end)
                matches = status in wanted and (stopped is None or stopped == (end is not None))
                assert matches == (mapping.charge_state(session) == state), (state, status, end)


def test_migration_0008_fills_the_start_and_end_of_stored_sessions(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    upgrade(url, "0007")
    sessions = [_session("S1", EMS), _session("S2", EMS, status="COMPLETED", end=T0 + timedelta(hours=1))]
    with sqlite3.connect(tmp_path / "hub.db") as conn:
        for s in sessions:
            conn.execute(
                "INSERT INTO sessions (country_code, party_id, id, emsp_country_code, emsp_party_id, token_uid, status, location_id,"
                " evse_uid, updated_us, stored_us, doc, rendered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ("NL", "GRN", s.id, "DE", "EMS", s.cdr_token.uid, s.status, s.location_id, s.evse_uid, 0, 0, docs.encode(s), b"{}"))
    upgrade(url)
    with sqlite3.connect(tmp_path / "hub.db") as conn:
        rows = conn.execute("SELECT id, started_us, stopped_us FROM sessions ORDER BY id").fetchall()
    assert rows == [("S1", docs.to_us(T0), None), ("S2", docs.to_us(T0), docs.to_us(T0 + timedelta(hours=1)))]

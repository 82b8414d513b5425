"""Every official OCPI 2.1.1 example (tests/data/spec/ocpi-2.1.1/SOURCE.md): each whole object decodes into its wire
type and encodes back to equal JSON; the Location, Session, CDR, Tariff and Token ones round-trip wire -> canonical ->
wire; each known-defective one is rejected naming the bad field, or its defect is named here."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from hub import model
from protocols.ocpi.v211 import mapping, wire
from tests.conftest import SPEC

EXAMPLES = SPEC / "ocpi-2.1.1" / "examples"
CPO = model.PartyId("BE", "BEC")  # the owner a 2.1.1 object gets from its connection


class EnergyMixExample(msgspec.Struct):
    energy_mix: wire.EnergyMix


class OpeningTimesExample(msgspec.Struct):
    opening_times: wire.Hours


def body(name: str) -> bytes:
    """The JSON an example holds: a request line (`PUT To URL: ...`) is cut, a fragment (`"energy_mix": {...}`) wrapped."""
    text = (EXAMPLES / name).read_text()
    if re.match(r"^[A-Z]+ To URL: ", text):
        return text.split("\n", 1)[1].encode()
    return ("{" + text + "}").encode() if text.lstrip().startswith('"') else text.encode()


WHOLE: dict[str, Any] = {
    "credentials_example_1.json": wire.Credentials,
    "mod_locations_example_1.block.txt": wire.EvsePatch,
    "mod_locations_example_2.block.txt": wire.LocationPatch,
    "mod_locations_example_3.block.txt": wire.ConnectorPatch,
    "mod_locations_example_5.block.txt": wire.EvsePatch,
    "mod_locations_example_6.json": wire.Location,
    "mod_locations_example_7.block.txt": EnergyMixExample,
    "mod_locations_example_8.block.txt": EnergyMixExample,
    "mod_locations_example_9.block.txt": EnergyMixExample,
    "mod_locations_example_10.block.txt": OpeningTimesExample,
    "mod_sessions_example_1.block.txt": wire.SessionPatch,
    "mod_sessions_example_2.json": wire.Session,
    "mod_sessions_example_3.json": wire.Session,
    "mod_tariffs_example_2.block.txt": wire.TariffPatch,
    **{f"mod_tariffs_example_{n}.json": wire.Tariff for n in range(3, 8)},
    "mod_tokens_example_1.block.txt": wire.Token,
    "mod_tokens_example_2.block.txt": wire.TokenPatch,
    "mod_tokens_example_3.json": wire.Token,
    "transport_and_format_example_2.json": wire.Response[wire.VersionDetails],
    "transport_and_format_example_3.json": wire.Response[wire.Token],
    "transport_and_format_example_4.json": wire.Response[list[wire.Token]],
    "transport_and_format_example_5.json": wire.Response[Any],
    "version_information_endpoint_example_1.json": list[wire.Version],
    "version_information_endpoint_example_2.json": wire.VersionDetails,
}

DEFECTIVE = {  # each rejected in a test below
    "mod_cdrs_example_1.json": "the tariff's price is a string",
    "mod_locations_example_4.block.txt": "an incomplete Connector, numbers where strings are required",
    "mod_tariffs_example_1.block.txt": "no last_updated",
    "transport_and_format_example_1.json": "version 1.9 is no VersionNumber",
}


def _value(value: Any, drop_empty_lists: bool = False) -> Any:
    """JSON compared as OCPI means it: absent = null, numbers by value (and, after the canonical model, [] = absent)."""
    if isinstance(value, dict):
        return {k: _value(v, drop_empty_lists) for k, v in value.items() if v is not None and not (drop_empty_lists and v == [])}
    if isinstance(value, list):
        return [_value(v, drop_empty_lists) for v in value]
    return Decimal(str(value)) if isinstance(value, (float, int)) and not isinstance(value, bool) else value


def _same_json(a: bytes, b: bytes, drop_empty_lists: bool = False) -> None:
    assert _value(json.loads(a), drop_empty_lists) == _value(json.loads(b), drop_empty_lists)


def test_every_example_is_covered() -> None:
    files = {f.name for f in EXAMPLES.iterdir()}
    assert len(files) == 32
    assert files == set(WHOLE) | set(DEFECTIVE)


@pytest.mark.parametrize("name", sorted(WHOLE))
def test_whole_example_decodes_and_encodes_back(name: str) -> None:
    decoded = wire.decode(body(name), WHOLE[name])
    _same_json(wire.encode(decoded), body(name))


# --- through the canonical model ------------------------------------------------------------------


def test_location_example_survives_the_canonical_model() -> None:
    raw = body("mod_locations_example_6.json")
    canonical = mapping.location_to_canonical(wire.decode(raw, wire.Location), CPO)
    # the example names no time_zone: it comes in as Belgium's (2.2.1 parties need one) and goes out with it
    assert (canonical.owner_party, canonical.parking_type, canonical.publish, canonical.time_zone) == (CPO, "ON_STREET", True, "Europe/Brussels")
    assert [c.tariff_ids for c in canonical.evses[0].connectors] == [["11"], ["11"]]
    out = msgspec.json.decode(wire.encode(mapping.location_from_canonical(canonical)))
    assert out.pop("time_zone") == "Europe/Brussels"
    _same_json(msgspec.json.encode(out), raw, drop_empty_lists=True)  # status_schedule []


@pytest.mark.parametrize("name", ["mod_sessions_example_2.json", "mod_sessions_example_3.json"])
def test_session_example_survives_the_canonical_model(name: str) -> None:
    raw = body(name)
    session = wire.decode(raw, wire.Session)
    canonical = mapping.session_to_canonical(session, CPO)
    assert (canonical.location_id, canonical.evse_uid, canonical.connector_id) == ("LOC1", "3256", "1")
    assert canonical.cdr_token == model.CdrToken("DE", "8AC", "DE8ACC12E46L89", "OTHER", "DE8ACC12E46L89")  # from the eMA ID
    assert canonical.total_cost == model.Price(excl_vat=Decimal(str(session.total_cost)))
    location = mapping.location_to_canonical(session.location, CPO)  # what the hub would have stored
    _same_json(wire.encode(mapping.session_from_canonical(canonical, location)), raw)


def _cdr_with_numeric_price() -> bytes:
    data = json.loads(body("mod_cdrs_example_1.json"), parse_float=Decimal)
    data["tariffs"][0]["elements"][0]["price_components"][0]["price"] = Decimal(data["tariffs"][0]["elements"][0]["price_components"][0]["price"])
    return json.dumps(data, default=float).encode()


def test_cdr_example_survives_the_canonical_model_once_its_price_is_a_number() -> None:
    raw = _cdr_with_numeric_price()
    cdr = wire.decode(raw, wire.Cdr)
    canonical = mapping.cdr_to_canonical(cdr, CPO)
    assert canonical.cdr_location.connector_standard == "IEC_62196_T2" and canonical.cdr_location.evse_id == "BE-BEC-E041503003"
    assert canonical.total_cost == model.Price(excl_vat=Decimal("4.0")) and canonical.end_date_time.hour == 23
    assert canonical.tariffs[0].owner_party == CPO
    location = mapping.location_to_canonical(cdr.location, CPO)
    _same_json(wire.encode(mapping.cdr_from_canonical(canonical, location)), raw)


@pytest.mark.parametrize("name", [f"mod_tariffs_example_{n}.json" for n in range(3, 8)])
def test_tariff_example_survives_the_canonical_model(name: str) -> None:
    canonical = mapping.tariff_to_canonical(wire.decode(body(name), wire.Tariff), CPO)
    assert canonical.owner_party == CPO
    _same_json(wire.encode(mapping.tariff_from_canonical(canonical)), body(name))


@pytest.mark.parametrize("name", ["mod_tokens_example_1.block.txt", "mod_tokens_example_3.json"])
def test_token_example_survives_the_canonical_model(name: str) -> None:
    emsp = model.PartyId("NL", "TNM")  # the party in the example's URL
    canonical = mapping.token_to_canonical(wire.decode(body(name), wire.Token), emsp)
    assert (canonical.owner_party, canonical.contract_id) == (emsp, "DE8ACC12E46L89")
    _same_json(wire.encode(mapping.token_from_canonical(canonical)), body(name))


def test_tokens_in_envelopes_survive_the_canonical_model() -> None:
    emsp = model.PartyId("NL", "TNM")
    tokens = wire.decode(body("transport_and_format_example_4.json"), wire.Response[list[wire.Token]]).data
    for token in tokens + [wire.decode(body("transport_and_format_example_3.json"), wire.Response[wire.Token]).data]:
        assert mapping.token_from_canonical(mapping.token_to_canonical(token, emsp)) == token


def test_patch_examples_give_canonical_changes() -> None:
    assert mapping.evse_patch_changes(wire.decode(body("mod_locations_example_5.block.txt"), wire.EvsePatch)) == {"status": "REMOVED"}
    assert mapping.location_patch_changes(wire.decode(body("mod_locations_example_2.block.txt"), wire.LocationPatch)) == {
        "name": "Interparking Gent Zuid"}
    assert mapping.connector_patch_changes(wire.decode(body("mod_locations_example_3.block.txt"), wire.ConnectorPatch)) == {
        "tariff_ids": ["15"]}
    assert mapping.session_patch_changes(wire.decode(body("mod_sessions_example_1.block.txt"), wire.SessionPatch)) == {
        "total_cost": model.Price(excl_vat=Decimal("0.6"))}
    assert mapping.token_patch_changes(wire.decode(body("mod_tokens_example_2.block.txt"), wire.TokenPatch)) == {"valid": False}
    changes = mapping.tariff_patch_changes(wire.decode(body("mod_tariffs_example_2.block.txt"), wire.TariffPatch))
    assert changes["elements"][0].price_components[0].price == Decimal("2.5")


def test_energy_mix_example_names_the_impact_source_which_the_model_calls_category() -> None:
    mix = wire.decode(body("mod_locations_example_9.block.txt"), EnergyMixExample).energy_mix
    location = json.loads(body("mod_locations_example_6.json"))
    location["energy_mix"] = msgspec.to_builtins(mix)
    canonical = mapping.location_to_canonical(wire.decode(json.dumps(location), wire.Location), CPO)
    assert [i.category for i in canonical.energy_mix.environ_impact] == ["NUCLEAR_WASTE", "CARBON_DIOXIDE"]
    assert mapping.location_from_canonical(canonical).energy_mix == mix


# --- the known defects ------------------------------------------------------------------------------


def test_cdr_example_with_its_price_as_a_string_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape("$.tariffs[0].elements[0].price_components[0].price")):
        wire.decode(body("mod_cdrs_example_1.json"), wire.Cdr)


def test_location_put_add_evse_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape("$.connectors[0]")):  # no power_type, voltage, ...
        wire.decode(body("mod_locations_example_4.block.txt"), wire.Evse)
    data = json.loads(body("mod_locations_example_4.block.txt"))
    data["connectors"] = [{**c, "power_type": "AC_3_PHASE", "voltage": 230, "amperage": 16,
                           "last_updated": "2015-06-29T20:39:09Z"} for c in data["connectors"]]
    data["last_updated"] = "2015-06-29T20:39:09Z"
    with pytest.raises(msgspec.ValidationError, match=r"\$\.physical_reference"):  # a number, and floor_level too
        wire.decode(json.dumps(data), wire.Evse)
    data["physical_reference"] = "3"
    with pytest.raises(msgspec.ValidationError, match=r"\$\.floor_level"):
        wire.decode(json.dumps(data), wire.Evse)


def test_tariff_put_without_last_updated_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match="last_updated"):
        wire.decode(body("mod_tariffs_example_1.block.txt"), wire.Tariff)


def test_tariff_patch_example_labelled_put_is_no_tariff() -> None:
    assert (EXAMPLES / "mod_tariffs_example_2.block.txt").read_text().startswith("PUT To URL")
    with pytest.raises(msgspec.ValidationError, match="missing required field `id`"):
        wire.decode(body("mod_tariffs_example_2.block.txt"), wire.Tariff)


def test_version_list_naming_version_1_9_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape("$.data[0].version")):
        wire.decode(body("transport_and_format_example_1.json"), wire.Response[list[wire.Version]])


@pytest.mark.parametrize("name", ["mod_sessions_example_2.json", "mod_sessions_example_3.json", "mod_cdrs_example_1.json"])
def test_embedded_location_with_alpha2_country_and_swapped_coordinates_is_kept_as_sent(name: str) -> None:
    """Structurally valid, so not rejected: `BE` fits string(3) and both coordinates are in range. Gent is 51.05 N."""
    raw = _cdr_with_numeric_price() if name.startswith("mod_cdrs") else body(name)
    location = wire.decode(raw, wire.Cdr if name.startswith("mod_cdrs") else wire.Session).location
    assert (location.country, location.coordinates.latitude) == ("BE", "3.729944")
    assert mapping.location_to_canonical(location, CPO).coordinates.latitude == Decimal("3.729944")


def test_session_example_with_energy_in_wh_is_named() -> None:
    """ENERGY is in kWh, but the periods hold 120 + 41000 against kwh 41: Wh. Kept as sent (no unit is guessed)."""
    session = mapping.session_to_canonical(wire.decode(body("mod_sessions_example_3.json"), wire.Session), CPO)
    energy = [d.volume for p in session.charging_periods for d in p.dimensions if d.type == "ENERGY"]
    assert sum(energy) > 1000 * session.kwh


@pytest.mark.parametrize("name", ["transport_and_format_example_2.json", "version_information_endpoint_example_2.json"])
def test_version_details_example_for_2_0_is_a_leftover(name: str) -> None:
    raw = body(name)
    details = wire.decode(raw, wire.Response[wire.VersionDetails]).data if name.startswith("transport") else wire.decode(raw, wire.VersionDetails)
    assert details.version == "2.0" and all("/2.0/" in e.url for e in details.endpoints)

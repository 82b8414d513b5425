"""Every official OCPI 2.2.1 example: the valid ones decode into the wire types, pass the rules and encode
back to equal JSON; each known-defective one (tests/data/spec/ocpi-2.2.1/SOURCE.md) is rejected naming the bad field."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from hub import model
from protocols.ocpi.v221 import mapping, rules, wire
from tests.conftest import SPEC

EXAMPLES = SPEC / "ocpi-2.2.1" / "examples"


class EnergyMixExample(msgspec.Struct):
    energy_mix: wire.EnergyMix


class OpeningTimesExample(msgspec.Struct):
    opening_times: wire.Hours


# file -> (wire type, canonical type or None)
VALID: dict[str, tuple[Any, Any]] = {
    "cdr_example.json": (wire.Cdr, model.Cdr),  # structurally valid; see the defect test below
    "credentials_example.json": (wire.Credentials, None),
    "credentials_example2.json": (wire.Credentials, None),
    "credentials_example3.json": (wire.Credentials, None),
    "credentials_example4.json": (wire.Credentials, None),
    "location_energymix_example_complete.json": (EnergyMixExample, None),
    "location_energymix_example_energy_provider.json": (EnergyMixExample, None),
    "location_energymix_example_simple.json": (EnergyMixExample, None),
    "location_example.json": (wire.Location, model.Location),
    "location_example_parking_garage_opening_hours.json": (wire.Location, model.Location),
    "location_example_uc2_destination_charger.json": (wire.Location, model.Location),
    "location_example_uc3_destination_charger_not_published.json": (wire.Location, model.Location),
    "location_example_uc4_limited_visibility.json": (wire.Location, model.Location),
    "location_example_uc5_home_charge_point.json": (wire.Location, model.Location),
    "location_hours_247_open_exception_closing.json": (wire.Hours, model.Hours),
    "location_hours_opening_hours_with_exceptional_closing.json": (wire.Hours, model.Hours),
    "location_hours_opening_hours_with_exceptional_opening.json": (wire.Hours, model.Hours),
    "location_patch_example_location.json": (wire.LocationPatch, None),
    "location_patch_example_remove_evse.json": (wire.EvsePatch, None),
    "location_patch_example_status.json": (wire.EvsePatch, None),
    "location_patch_example_tariff.json": (wire.ConnectorPatch, None),
    "location_regularhours_example.json": (OpeningTimesExample, None),
    "session_example_1_simple_start.json": (wire.Session, model.Session),
    "session_patch_example_total_cost.json": (wire.SessionPatch, None),
    "token_example_1_app_user.json": (wire.Token, model.Token),
    "token_example_2_full_rfid.json": (wire.Token, model.Token),
    "token_patch_example.json": (wire.TokenPatch, None),
    "token_put_example.json": (wire.Token, model.Token),
    "transport_and_format_get_token_example.json": (wire.Response[wire.Token], None),
    "transport_and_format_get_token_list_example.json": (wire.Response[list[wire.Token]], None),
    "type_displaytext_example.json": (wire.DisplayText, model.DisplayText),
    "versions_info_example.json": (list[wire.Version], None),
    **{f.name: (wire.Tariff, model.Tariff) for f in EXAMPLES.glob("tariff*.json") if f.name != "tariff_put_example.json"},
}

DEFECTIVE = {
    "location_put_example_add_evse.json",
    "tariff_put_example.json",
    "session_example_2_short_finished.json",
    "session_patch_example_charging_period.json",
    "transport_and_format_version_details_example.json",
    "transport_and_format_version_info_example.json",
    "version_details_example.json",
    "version_details_example2.json",
}

RULES = {
    wire.Location: rules.check_location, wire.Tariff: rules.check_tariff, wire.Session: rules.check_session,
    wire.SessionPatch: rules.check_session_patch, wire.Cdr: rules.check_cdr,
}


def _load(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def _without_nulls(value: Any) -> Any:
    """Absent and null mean the same for optional OCPI fields; numbers compare by value."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def test_the_examples_are_there() -> None:
    assert EXAMPLES.is_dir(), f"the OCPI examples are missing at {EXAMPLES}"


def test_every_example_is_covered() -> None:
    files = {f.name for f in EXAMPLES.glob("*.json")}
    assert len(files) == 59
    assert files == set(VALID) | DEFECTIVE


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_example_round_trips(name: str) -> None:
    wire_type, _ = VALID[name]
    raw = _load(name)
    decoded = wire.decode(raw, wire_type)
    check = RULES.get(wire_type)
    if check is not None:
        assert check(decoded) == [] or name == "cdr_example.json"
    original = json.loads(raw, parse_float=Decimal)
    assert _without_nulls(json.loads(wire.encode(decoded), parse_float=Decimal)) == _without_nulls(original)


@pytest.mark.parametrize("name", sorted(n for n, (_, c) in VALID.items() if c is not None))
def test_valid_example_survives_the_canonical_model(name: str) -> None:
    wire_type, canonical_type = VALID[name]
    decoded = wire.decode(_load(name), wire_type)
    canonical = mapping.to_canonical(decoded, canonical_type)
    again = mapping.from_canonical(canonical, wire_type)
    assert mapping.to_canonical(again, canonical_type) == canonical


def _rejected(exc: pytest.ExceptionInfo, field: str) -> None:
    assert field in str(exc.value), str(exc.value)


def test_location_put_add_evse_is_rejected() -> None:
    # `floor` is not a field (floor_level is): ignored like any unknown field; physical_reference must be a string
    with pytest.raises(msgspec.ValidationError) as exc:  # its Connector lacks power_type, max_voltage, ...
        wire.decode(_load("location_put_example_add_evse.json"), wire.Evse)
    _rejected(exc, "connectors[0]")
    data = json.loads(_load("location_put_example_add_evse.json"))
    data["connectors"] = [{**c, "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16,
                           "last_updated": "2019-06-24T12:39:09Z"} for c in data["connectors"]]
    with pytest.raises(msgspec.ValidationError) as exc:  # and physical_reference is a number
        wire.decode(json.dumps(data).encode(), wire.Evse)
    _rejected(exc, "physical_reference")


def test_tariff_put_without_last_updated_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError) as exc:
        wire.decode(_load("tariff_put_example.json"), wire.Tariff)
    _rejected(exc, "last_updated")


def test_session_with_energy_in_wh_is_rejected() -> None:
    problems = rules.check_session(wire.decode(_load("session_example_2_short_finished.json"), wire.Session))
    assert [p.path for p in problems] == ["charging_periods[0].dimensions[0].volume", "charging_periods[1].dimensions[0].volume"]


def test_session_patch_with_energy_in_wh_is_rejected() -> None:
    problems = rules.check_session_patch(wire.decode(_load("session_patch_example_charging_period.json"), wire.SessionPatch))
    assert [p.path for p in problems] == ["charging_periods[0].dimensions[0].volume"]


def test_cdr_example_last_updated_before_end_is_rejected() -> None:
    # Its swapped latitude/longitude cannot be seen structurally (both are valid coordinates); this can:
    problems = rules.check_cdr(wire.decode(_load("cdr_example.json"), wire.Cdr))
    assert [p.path for p in problems] == ["last_updated"]


@pytest.mark.parametrize("name", ["version_details_example.json", "version_details_example2.json"])
def test_version_details_for_2_2_are_rejected(name: str) -> None:
    problems = rules.check_version_details(wire.decode(_load(name), wire.VersionDetails))
    assert problems and problems[0].path == "version"


def test_credentials_endpoint_role_receiver_is_flagged_when_strict() -> None:
    details = wire.decode(_load("version_details_example2.json"), wire.VersionDetails)
    assert "endpoints[0].role" in [p.path for p in rules.check_version_details(details, strict=True)]


def test_envelope_with_version_details_for_2_2_is_rejected() -> None:
    env = wire.decode(_load("transport_and_format_version_details_example.json"), wire.Response[wire.VersionDetails])
    assert rules.check_version_details(env.data)[0].path == "version"


def test_envelope_offering_2_2_without_2_2_1_is_flagged_when_strict() -> None:
    env = wire.decode(_load("transport_and_format_version_info_example.json"), wire.Response[list[wire.Version]])
    assert [p.path for p in rules.check_versions(env.data, strict=True)] == ["[1].version", "version"]

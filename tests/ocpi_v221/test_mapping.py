"""The canonical model and OCPI 2.2.1: canonical -> OCPI -> canonical keeps everything OCPI carries, and
what the hub renders is valid OCPI (it decodes with the strict wire types)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings

from hub import model
from protocols.ocpi.v221 import mapping, wire
from tests.ocpi_v221 import strategies as s

CASES: list[tuple[str, Any, Any, Any]] = [
    ("location", s.location, wire.Location, model.Location),
    ("tariff", s.tariff, wire.Tariff, model.Tariff),
    ("token", s.token, wire.Token, model.Token),
    ("session", s.session, wire.Session, model.Session),
    ("cdr", s.cdr, wire.Cdr, model.Cdr),
    ("charging_profile", s.charging_profile, wire.ChargingProfile, model.ChargingProfile),
]


@pytest.mark.parametrize("name,strategy,wire_type,canonical_type", CASES, ids=[c[0] for c in CASES])
def test_canonical_to_ocpi_to_canonical_is_identity(name: str, strategy: Any, wire_type: Any, canonical_type: Any) -> None:
    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(strategy)
    def check(obj: Any) -> None:
        rendered = wire.encode(mapping.from_canonical(obj, wire_type))
        decoded = wire.decode(rendered, wire_type)  # what we send passes the strict wire types
        assert mapping.to_canonical(decoded, canonical_type) == obj

    check()


@settings(max_examples=40, deadline=None)
@given(s.start_session)
def test_start_session_survives_the_wire(cmd: model.StartSession) -> None:
    w = wire.decode(wire.encode(mapping.command_request_from_canonical(cmd, "https://emsp.example/r/1")), wire.StartSession)
    assert w.response_url == "https://emsp.example/r/1"
    assert mapping.start_session_to_canonical(w) == cmd


@settings(max_examples=40, deadline=None)
@given(s.reserve_now)
def test_reserve_now_survives_the_wire(cmd: model.ReserveNow) -> None:
    w = wire.decode(wire.encode(mapping.command_request_from_canonical(cmd, "https://emsp.example/r/2")), wire.ReserveNow)
    assert mapping.reserve_now_to_canonical(w) == cmd


def test_patch_without_last_updated_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match="last_updated"):
        wire.decode(b'{"status": "CHARGING"}', wire.EvsePatch)


def test_over_long_cistring_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.uid"):
        wire.decode(b'{"uid": "' + b"X" * 37 + b'", "status": "AVAILABLE", "connectors": [], "last_updated": "2020-01-01T00:00:00Z"}', wire.Evse)


def test_unknown_enum_value_is_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.status"):
        wire.decode(b'{"status": "BROKEN", "last_updated": "2020-01-01T00:00:00Z"}', wire.EvsePatch)


def test_cistring_must_be_printable_ascii() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.id"):
        wire.decode(b'{"id": "caf\xc3\xa9", "last_updated": "2020-01-01T00:00:00Z"}', wire.ConnectorPatch)


def test_lowercase_country_code_accepted() -> None:
    token = wire.decode(b'{"country_code":"nl","party_id":"tnm","uid":"1","type":"RFID","contract_id":"c","issuer":"i",'
                        b'"valid":true,"whitelist":"ALWAYS","last_updated":"2020-01-01T00:00:00Z"}', wire.Token)
    assert mapping.token_to_canonical(token).owner_party == model.PartyId("NL", "TNM")


def test_datetime_with_offset_converted_to_utc() -> None:
    p = wire.decode(b'{"last_updated": "2020-01-01T02:00:00+02:00"}', wire.TokenPatch)
    assert mapping.token_patch_changes(p)["last_updated"] == datetime(2020, 1, 1, tzinfo=timezone.utc)


def test_datetime_without_designator_is_utc_and_rendered_with_z() -> None:
    assert mapping.parse_datetime("2016-12-29T17:45:09.2") == datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=timezone.utc)
    assert mapping.format_datetime(datetime(2016, 12, 29, 17, 45, 9, 200000, tzinfo=timezone.utc)) == "2016-12-29T17:45:09.200Z"
    assert mapping.format_datetime(datetime(2016, 12, 29, 17, 45, 9, tzinfo=timezone.utc)) == "2016-12-29T17:45:09Z"


def test_coordinates_keep_at_least_five_decimals() -> None:
    assert mapping.format_coordinate(Decimal("52.1")) == "52.10000"
    assert mapping.format_coordinate(Decimal("-4.123456")) == "-4.123456"


def test_patch_changes_hold_only_the_fields_sent() -> None:
    p = wire.decode(b'{"status": "CHARGING", "last_updated": "2020-01-01T00:00:00Z"}', wire.EvsePatch)
    assert mapping.evse_patch_changes(p) == {"status": "CHARGING", "last_updated": datetime(2020, 1, 1, tzinfo=timezone.utc)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s.location)
def test_a_location_put_together_from_its_shell_and_evses_is_the_same_bytes(loc: model.Location) -> None:
    """The store keeps a Location's own fields and its EVSEs apart; what it serves must not change by a byte."""
    from protocols.ocpi.v221 import codec

    parts = [codec.render("evse", e) for e in loc.evses]
    assert codec.assemble_location(codec.location_shell(loc), parts) == codec.render("location", loc)
    no_evses = msgspec.structs.replace(loc, evses=[])
    assert codec.assemble_location(codec.location_shell(loc), []) == codec.render("location", no_evses)

"""Bulk onboarding as an operator runs it: `hub chargers import` and `hub chargers export` as processes, on a real
database (SQLite, and PostgreSQL when configured), beside a served hub with a registered eMSP."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import websockets
from sqlalchemy.engine import make_url

from connectors import bilateral
from hub.app import Hub
from hub.model import PartyId
from hub.services.onboarding import COLUMNS, SITE
from hub.settings import Settings
from protocols.ocpp.simulator import connect_charger
from tests.conftest import PG_URL, Served, _pg_admin_dsn
from tests.test_cli import run
from tests.test_ocpi_e2e import eventually
from tests.test_ocpp_e2e import _tariff
from tests.test_processes import process_env

SITES, PER_SITE = 40, 25


def charger_row(n: int, **changes: str) -> dict[str, str]:
    """Charger n of a CSV file: 25 chargers to a site, every row with its site's fields and a password."""
    site = n // PER_SITE
    row = {"identity": f"CP-{n:04d}", "party": "NL/GRN", "location_id": f"SITE-{site:02d}", "password": f"password-of-charger-{n:04d}",
           "address": f"Stationsplein {site}", "city": "Utrecht", "postal_code": "3511 ED", "country": "NLD", "lat": f"52.{site:04d}",
           "lon": "5.110200", "time_zone": "Europe/Amsterdam", "name": f"Site {site}", "standard": "IEC_62196_T2", "format": "SOCKET",
           "power_type": "AC_3_PHASE", "max_voltage": "230", "max_amperage": "32", "max_electric_power": "22000", "tariff_id": "AC1"}
    return {**row, **changes}


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def imported(result: Any) -> dict[str, Any]:
    assert "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def exported(env: dict[str, str]) -> dict[str, dict[str, str]]:
    result = run(["chargers", "export"], env)
    assert result.returncode == 0, result.stderr
    return {r["identity"]: r for r in csv.DictReader(io.StringIO(result.stdout))}


async def hang_up(ws: Any, reader: asyncio.Task) -> None:
    await ws.close()
    with contextlib.suppress(websockets.exceptions.ConnectionClosed):
        await reader


async def _prepare(env: dict[str, str]) -> None:
    """GreenCharge's tariff AC1, and an invitation that makes DE/HLD a party another platform holds."""
    hub = Hub(Settings.from_env(env))
    await hub.start(serve=False)
    try:
        await hub.core.objects.put_tariff(None, _tariff())
        await bilateral.invite(hub.ocpi, PartyId("DE", "HLD"), "CPO")
    finally:
        await hub.stop()


# line of the file -> (what that row is instead, what its reason says); the header is line 1, charger n is on line n + 2
BAD = {
    7: ({"password": "short"}, "password: a charger password has 16 to 40 characters"),
    100: ({"identity": "CP/0098"}, "identity: an identity of 1 to 32 characters without '/'"),
    205: ({"party": "NLGRNX"}, "party must look like CC/PID"),
    333: ({"lat": "123.5"}, "lat: 123.5 is not between -90 and 90"),
    404: ({"power_type": "AC_4_PHASE"}, "power_type: invalid enum value 'AC_4_PHASE'"),
    512: ({"tariff_id": "AC9"}, "tariff_id: no tariff AC9 of NL/GRN"),
    640: ({"location_id": "NOWHERE", **{f: "" for f in SITE}}, "no location NOWHERE of NL/GRN: give its address to create it"),
    777: ({"identity": "CP-0010"}, "identity CP-0010 is on line 12 already"),
    901: ({"party": "DE/HLD", "tariff_id": ""}, "DE/HLD is a party another platform speaks for"),
}


async def test_an_import_registers_the_good_rows_reports_each_bad_one_and_runs_again_idempotently(database_url: str, tmp_path: Path) -> None:
    env = process_env(database_url, tmp_path)
    await _prepare(env)
    rows = [charger_row(n) for n in range(SITES * PER_SITE)]
    for line, (changes, _) in BAD.items():
        rows[line - 2] = {**rows[line - 2], **changes}
    path = write_csv(tmp_path / "chargers.csv", rows)
    good = len(rows) - len(BAD)

    first = await asyncio.to_thread(run, ["chargers", "import", str(path), "--batch", "280"], env)  # Locations across batches
    summary = imported(first)
    assert first.returncode == 1  # some rows were bad; the others are in
    assert (summary["created"], summary["updated"], summary["unchanged"], summary["bad"]) == (good, 0, 0, len(BAD))
    assert summary["locations"] == {"created": SITES, "updated": 0, "unchanged": 0}
    assert summary["ocpp_url"] == f"ws://127.0.0.1:{env['HUB_OCPP_PORT']}/ocpp"
    assert [b["line"] for b in summary["bad_rows"]] == sorted(BAD)
    for bad in summary["bad_rows"]:
        assert BAD[bad["line"]][1] in bad["reason"], bad
        assert f"line {bad['line']} " in first.stderr and BAD[bad["line"]][1] in first.stderr
    assert "password-of-charger" not in first.stdout + first.stderr
    listed = json.loads(run(["chargers", "list"], env).stdout)
    assert len(listed) == good and {c["party"] for c in listed} == {"NL/GRN"}
    assert {c["identity"] for c in listed} == {r["identity"] for line, r in enumerate(rows, 2) if line not in BAD}

    again = imported(await asyncio.to_thread(run, ["chargers", "import", str(path)], env))
    assert (again["created"], again["updated"], again["unchanged"], again["bad"]) == (0, 0, good, len(BAD))
    assert again["locations"] == {"created": 0, "updated": 0, "unchanged": SITES}
    assert len(json.loads(run(["chargers", "list"], env).stdout)) == good

    rows[18]["max_amperage"] = "16"  # one charger's connector template
    for row in rows[5 * PER_SITE:6 * PER_SITE]:  # one site's city
        row["city"] = "Amersfoort"
    changed = imported(await asyncio.to_thread(run, ["chargers", "import", str(write_csv(path, rows))], env))
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, good - 1)
    assert changed["locations"] == {"created": 0, "updated": 1, "unchanged": SITES - 1}
    now = exported(env)
    assert now["CP-0018"]["max_amperage"] == "16" and now["CP-0019"]["max_amperage"] == "32"
    assert {now[f"CP-{n:04d}"]["city"] for n in range(5 * PER_SITE, 6 * PER_SITE)} == {"Amersfoort"}
    assert now["CP-0150"]["city"] == "Utrecht"


async def test_generated_passwords_are_given_out_once_and_let_the_chargers_in_and_their_location_reaches_the_emsp(
    served: Served, make_party: Any, database_url: str, tmp_path: Path,
) -> None:
    emsp = await make_party("NL", "EMS", "EMSP")
    invite = await bilateral.invite(served.hub.ocpi, PartyId("NL", "EMS"), "EMSP")
    await emsp.register(invite["versions_url"], invite["token"])
    env = process_env(database_url, tmp_path)
    site = {"party": "NL/GRN", "location_id": "LOC-JS"}
    path = write_jsonl(tmp_path / "chargers.jsonl", [
        {"identity": "JS-1", **site, "address": "Kerkstraat 1", "city": "Utrecht", "country": "NLD", "lat": 52.09, "lon": 5.12},
        {"identity": "JS-2", **site},
        {"identity": "JS-3", **site, "power_type": "DC", "max_electric_power": 50000, "password": None},
    ])
    out = tmp_path / "passwords.csv"
    result = await asyncio.to_thread(run, ["chargers", "import", str(path), "--generate-passwords", "--passwords-out", str(out)], env)
    summary = imported(result)
    assert result.returncode == 0 and (summary["created"], summary["passwords_generated"]) == (3, 3)
    assert "passwords" not in summary and summary["passwords_out"] == str(out)
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    passwords = dict(list(csv.reader(out.open()))[1:])
    assert sorted(passwords) == ["JS-1", "JS-2", "JS-3"] and all(len(p) == 24 and p.isalnum() for p in passwords.values())
    assert not any(p in result.stdout + result.stderr for p in passwords.values())  # given out once, never logged

    # the Location reaches the eMSP through the outbox of the serving hub; a charger gets in with its password
    await eventually(lambda: any(x.method == "PUT" and x.path == "NL/GRN/LOC-JS" for x in emsp.received["locations"]))
    ocpp = f"ws://127.0.0.1:{served.hub.ocpp.port}/ocpp"
    cp, ws, reader = await connect_charger(ocpp, "JS-1", "1.6", passwords["JS-1"])
    await cp.boot()
    await eventually(lambda: any(x.path.startswith("NL/GRN/LOC-JS/JS-1-") for x in emsp.received["locations"]))
    await hang_up(ws, reader)

    # again: nothing is generated for chargers that have a password, unless asked to rotate
    out2 = tmp_path / "passwords-2.csv"
    again = imported(await asyncio.to_thread(run, ["chargers", "import", str(path), "--generate-passwords", "--passwords-out", str(out2)], env))
    assert (again["unchanged"], again["passwords_generated"]) == (3, 0) and out2.read_text() == "identity,password\n"
    refused = await asyncio.to_thread(run, ["chargers", "import", str(path), "--generate-passwords", "--passwords-out", str(out)], env)
    assert refused.returncode == 1 and "exists" in refused.stderr and "Traceback" not in refused.stderr
    assert dict(list(csv.reader(out.open()))[1:]) == passwords  # the passwords given out are still there
    rotated = imported(await asyncio.to_thread(run, ["chargers", "import", str(path), "--rotate-passwords"], env))
    assert (rotated["updated"], rotated["passwords_generated"]) == (3, 3)
    assert rotated["passwords"].keys() == passwords.keys() and not set(rotated["passwords"].values()) & set(passwords.values())
    await asyncio.sleep(0.5)  # the serving hub hears of the change (SQLite: within 0.2 s)
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await connect_charger(ocpp, "JS-2", "1.6", passwords["JS-2"])
    await hang_up(*(await connect_charger(ocpp, "JS-2", "1.6", rotated["passwords"]["JS-2"]))[1:])

    # a new connector template reaches the connectors JS-1 reported already
    lines = path.read_text().splitlines()
    write_jsonl(path, [json.dumps({**json.loads(lines[0]), "max_amperage": 16}), *lines[1:]])
    templated = imported(await asyncio.to_thread(run, ["chargers", "import", str(path)], env))
    assert (templated["updated"], templated["unchanged"]) == (1, 2)

    def amperages() -> set[int]:
        puts = [x.body for x in emsp.received["locations"] if x.method == "PUT" and x.path == "NL/GRN/LOC-JS"]
        return {c["max_amperage"] for e in puts[-1].get("evses", []) if e["uid"].startswith("JS-1-") for c in e["connectors"]}

    await eventually(lambda: amperages() == {16})


@pytest.fixture
async def other_database_url(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A second fresh database on the same backend: another hub's."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "other.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"hub_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_pg_admin_dsn())
    await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{request.getfixturevalue("pg_template")}"')
    await conn.close()
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)  # type: ignore[arg-type]
    conn = await asyncpg.connect(_pg_admin_dsn())
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_then_import_on_another_hub_gives_the_same_chargers_and_locations(
    database_url: str, other_database_url: str, tmp_path: Path, fmt: str,
) -> None:
    here, there = process_env(database_url, tmp_path), process_env(other_database_url, tmp_path)
    rows = [charger_row(n, password="", tariff_id="", **({"power_type": "DC", "standard": "IEC_62196_T2_COMBO", "format": "CABLE",
                                                           "max_electric_power": "150000"} if n % 3 == 0 else {}),
                        **({"name": "", "postal_code": "", "time_zone": "Europe/Berlin"} if n // PER_SITE == 1 else {}))
            for n in range(3 * PER_SITE)]
    source = write_csv(tmp_path / "source.csv", rows)
    assert imported(await asyncio.to_thread(run, ["chargers", "import", str(source)], here))["created"] == len(rows)

    exported_file = tmp_path / f"chargers.{fmt}"
    result = await asyncio.to_thread(run, ["chargers", "export", "--out", str(exported_file)], here)
    assert result.returncode == 0 and f"{len(rows)} chargers" in result.stderr
    assert "password" not in exported_file.read_text()
    moved = imported(await asyncio.to_thread(run, ["chargers", "import", str(exported_file)], there))
    assert (moved["created"], moved["bad"], moved["locations"]["created"]) == (len(rows), 0, 3)
    back = await asyncio.to_thread(run, ["chargers", "export", "--format", fmt], there)
    assert back.stdout == exported_file.read_text()
    original = exported(here)
    assert original["CP-0025"]["time_zone"] == "Europe/Berlin" and original["CP-0025"]["name"] == ""
    assert original["CP-0003"]["power_type"] == "DC" and original["CP-0003"]["max_electric_power"] == "150000"


async def test_bad_json_lines_and_bad_files_are_reported_without_a_traceback(database_url: str, tmp_path: Path) -> None:
    env = process_env(database_url, tmp_path)
    site = {"party": "NL/GRN", "location_id": "LOC-1", "address": "Kerkstraat 1", "city": "Utrecht", "country": "NLD", "lat": 52.09, "lon": 5.12}
    path = write_jsonl(tmp_path / "chargers.jsonl", [
        {"identity": "OK-1", **site},
        '{"identity": "BAD-1", "party": ',
        "[1, 2]",
        {"identity": "BAD-2", **site, "colour": "green"},
        {"identity": "BAD-3", **site, "max_voltage": "high"},
        {"identity": "BAD-4", **site, "city": "Amersfoort"},
        {"identity": "BAD-5", **site, "country": "NL"},
        {"identity": "BAD-6", **site, "time_zone": "Mars/Olympus"},
    ])
    result = await asyncio.to_thread(run, ["chargers", "import", str(path)], env)
    summary = imported(result)
    assert result.returncode == 1 and (summary["created"], summary["bad"]) == (1, 7)
    reasons = {b["line"]: b["reason"] for b in summary["bad_rows"]}
    assert reasons[2].startswith("not JSON") and reasons[3] == "not a JSON object"
    assert "unknown field `colour`" in reasons[4] and reasons[5].startswith("max_voltage: expected `int`")
    assert reasons[6] == "location LOC-1 has other fields on line 1" and reasons[7].startswith("country:")
    assert reasons[8].startswith("time_zone: 'Mars/Olympus' is not an IANA time zone")

    unknown = write_csv(tmp_path / "wrong.csv", [])
    unknown.write_text("identity,party,location_id,colour\nX,NL/GRN,LOC-1,green\n")
    result = await asyncio.to_thread(run, ["chargers", "import", str(unknown)], env)
    assert result.returncode == 1 and "unknown column(s) 'colour'" in result.stderr and "Traceback" not in result.stderr
    result = await asyncio.to_thread(run, ["chargers", "import", str(tmp_path / "chargers.txt")], env)
    assert result.returncode == 1 and "--format" in result.stderr and "Traceback" not in result.stderr
    assert len(json.loads(run(["chargers", "list"], env).stdout)) == 1

"""Bulk onboarding: `hub chargers import` of 10,000 chargers (400 Locations of 25), first run and re-run.

    .venv/bin/python -m bench.import_chargers [--locations 400] [--per-location 25] [--backends sqlite,postgresql]

Each case runs `hub chargers import` as a process on a new database of each backend (a temporary SQLite file; a
PostgreSQL database created for the run, see bench/hubproc.database) holding the CPO's tariffs and one connected
eMSP platform, so every new Location is fanned out to it through the outbox. The cases:

- no passwords: no PBKDF2 at all;
- passwords in the file: each is hashed, and checked against the stored hash on the re-run;
- --generate-passwords: each charger gets one (hashed) on the first run; the re-run keeps them (no hashing).

Printed per backend and case: seconds and rows/s of the whole process (start-up included) and of the import
itself (the summary's figure), for the first import and the re-import (which changes nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import hubproc
from fixtures import generate
from hub.model import PartyId

CPO = PartyId("NL", "BIM")
EMSP = PartyId("NL", "BEM")
CITIES = [("Utrecht", "NLD", 52.0907, 5.1214), ("Amsterdam", "NLD", 52.3676, 4.9041), ("Rotterdam", "NLD", 51.9244, 4.4777)]


def write_file(path: Path, locations: int, per_location: int, passwords: bool) -> int:
    """A CSV file as an operator would export it from another central system."""
    columns = ["identity", "party", "location_id", "password", "address", "city", "postal_code", "country", "lat", "lon",
               "time_zone", "name", "power_type", "max_electric_power", "tariff_id"]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for n in range(locations):
            city, country, lat, lon = CITIES[n % len(CITIES)]
            dc = n % 4 == 0
            for c in range(per_location):
                identity = f"IMP{n:04d}-{c:02d}"
                writer.writerow([
                    identity, str(CPO), f"SITE{n:04d}", f"pw-{identity}-0123456789" if passwords else "", f"Laan {n}", city,
                    f"{1000 + n % 9000} AB", country, f"{lat + n * 1e-4:.6f}", f"{lon - n * 1e-4:.6f}", "Europe/Amsterdam",
                    f"{city} hub {n}", "DC" if dc else "AC_3_PHASE", 150_000 if dc else 22_000, "DC1" if dc else "AC1",
                ])
    return locations * per_location


async def _prepare(url: str) -> None:
    """The CPO's tariffs and a connected eMSP platform that takes Locations."""
    from hub.app import Hub
    from hub.settings import Settings
    from hub.store import platforms

    hub = Hub(Settings(database_url=url, log_level="WARNING", secret_key=hubproc.SECRET_KEY))
    await hub.start(serve=False)
    try:
        await hub.core.parties.ensure_local(CPO, "CPO", "bench CPO")
        for tariff in generate.tariffs(CPO):
            await hub.core.objects.put_tariff(None, tariff)

        def emsp(tx) -> None:  # noqa: ANN001
            pid = platforms.create_platform(tx, name="bench eMSP", token_in="bench-emsp-token", token_kind="C", status="CONNECTED",
                                            claims=[(EMSP, "EMSP")])
            platforms.update_platform(tx, pid, receives="location,tariff")
            platforms.set_parties(tx, pid, [(EMSP, "EMSP", "bench eMSP", None)])

        await hub.core.db.write(emsp)
    finally:
        await hub.stop()


def _import(url: str, path: Path, *extra: str) -> tuple[float, dict]:
    env = {**os.environ, "HUB_DATABASE_URL": url, "HUB_SECRET_KEY": hubproc.SECRET_KEY, "HUB_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "hub.cli", "chargers", "import", str(path), *extra], env=env, cwd=hubproc.ROOT,
                          capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the import failed: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


CASES = {
    "no passwords": (False, ()),
    "passwords in the file": (True, ()),
    "--generate-passwords": (False, ("--generate-passwords",)),
}


def run_case(backend: str, case: str, locations: int, per_location: int, directory: Path) -> list[str]:
    with_passwords, flags = CASES[case]
    path = directory / f"chargers-{'pw' if with_passwords else 'nopw'}.csv"
    rows = write_file(path, locations, per_location, with_passwords)
    lines = []
    with hubproc.database(backend) as url:
        asyncio.run(_prepare(url))
        for run, expect in (("first import", "created"), ("re-import", "unchanged")):
            out = directory / f"passwords-{time.monotonic_ns()}.csv"
            extra = (*flags, "--passwords-out", str(out)) if flags else ()
            seconds, summary = _import(url, path, *extra)
            assert summary[expect] == rows and summary["bad"] == 0, summary
            lines.append(f"{backend:<10} {case:<22} {run:<13} {seconds:6.2f} s {rows / seconds:8,.0f} rows/s   "
                         f"(import itself {summary['seconds']:6.2f} s, {summary['rows_per_second']:7,} rows/s; "
                         f"{summary['locations']['created']} Locations created, {summary['passwords_generated']} passwords generated)")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--locations", type=int, default=400)
    parser.add_argument("--per-location", type=int, default=25)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--cases", default=",".join(CASES), help=f"some of: {', '.join(CASES)}")
    args = parser.parse_args()
    print(f"{args.locations * args.per_location:,} chargers at {args.locations} Locations; seconds of the whole `hub chargers import` process")
    with tempfile.TemporaryDirectory() as directory:
        for backend in args.backends.split(","):
            for case in args.cases.split(","):
                run_case(backend, case, args.locations, args.per_location, Path(directory))


if __name__ == "__main__":
    main()

"""Chargers in bulk: `hub chargers import` registers thousands from one file (an operator moving from another
central system), `hub chargers export` writes them in the same form (moving to another hub).

A file is CSV with a header row, or JSON lines, with the columns COLUMNS. Every row is checked on its own (the
rules of `Charging.add`, the party, the Location's fields, the enums, the tariff) and a bad one is reported with
its line number and reason while the others go on. Rows sharing a party and location_id share one Location: a
row giving its address fields defines it, a later row giving other ones is bad, rows without them name it.

The good rows are registered in batches of ONE transaction each (`Charging.add_many`): the batch's chargers and
the Locations it is the first to use, which reach the eMSPs through the core's fan-out. Running a file again
changes only what differs. A charger gets the row's password, or with `generate` a random one when it has none
(with `rotate` also when it has one); PBKDF2 runs on threads (hashlib releases the GIL) while the previous batch
is written. A generated password is given out once, in a file only its owner can read (written as each batch
commits) or in the summary, and never in a log line or a message.
"""

from __future__ import annotations

import asyncio
import csv
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal
from typing import IO, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import sqlalchemy as sa
from msgspec import Meta

from hub import model
from hub.model import PartyId
from hub.services.charging import LOCATION_FIELDS, Charging, Registered
from hub.services.errors import Invalid
from hub.store import chargers as store
from hub.store import documents as docs
from hub.store.chargers import ConnectorTemplate, Registration

Format = Literal["csv", "jsonl"]
COLUMNS = ("identity", "party", "location_id", "password", "address", "city", "postal_code", "country", "lat", "lon",
           "time_zone", "name", "standard", "format", "power_type", "max_voltage", "max_amperage", "max_electric_power",
           "tariff_id")
REQUIRED = ("identity", "party", "location_id")
EXPORTED = tuple(c for c in COLUMNS if c != "password")  # the hub keeps only their hashes
SITE = ("address", "city", "postal_code", "country", "lat", "lon", "time_zone", "name")  # a row's Location fields
NEW_SITE = ("address", "city", "country", "lat", "lon")  # ... of which these are needed
TEMPLATE = ("standard", "format", "power_type", "max_voltage", "max_amperage", "max_electric_power")
DEFAULT_TIME_ZONE = "Europe/Amsterdam"  # as `hub chargers add`
BATCH = 500
PROGRESS_INTERVAL = 1.0  # seconds between progress lines

Key = tuple[str, str, str]  # a Location's: country code, party id, id (upper case)
Size = Annotated[int, Meta(gt=0, le=10_000_000)]


class Row(msgspec.Struct, forbid_unknown_fields=True):
    """One row of the file (lengths as OCPI has them; an empty cell is a missing one)."""

    identity: str
    party: str
    location_id: Annotated[str, Meta(min_length=1, max_length=36)]
    password: str | None = None
    address: Annotated[str, Meta(max_length=45)] | None = None
    city: Annotated[str, Meta(max_length=45)] | None = None
    postal_code: Annotated[str, Meta(max_length=10)] | None = None
    country: Annotated[str, Meta(pattern="^[A-Za-z]{3}$")] | None = None  # ISO 3166 alpha-3
    lat: Decimal | None = None
    lon: Decimal | None = None
    time_zone: Annotated[str, Meta(max_length=255)] | None = None
    name: Annotated[str, Meta(max_length=255)] | None = None
    standard: model.ConnectorStandard | None = None
    format: model.ConnectorFormat | None = None
    power_type: model.PowerType | None = None
    max_voltage: Size | None = None
    max_amperage: Size | None = None
    max_electric_power: Size | None = None
    tariff_id: Annotated[str, Meta(min_length=1, max_length=36)] | None = None


class Entry(msgspec.Struct):
    """A good row: the charger it registers, and its Location as the row describes it (None: the row names it)."""

    line: int
    identity: str
    party: PartyId
    location_id: str
    password: str | None
    connector: ConnectorTemplate
    site: model.Location | None

    @property
    def key(self) -> Key:
        return (self.party.country_code, self.party.party_id, self.location_id.upper())


class Bad(msgspec.Struct, frozen=True):
    line: int
    identity: str | None
    reason: str


# --- reading the file -----------------------------------------------------------------------------------------


def format_of(path: str, given: str | None = None) -> Format:
    if given:
        return given  # type: ignore[return-value]
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        return "csv"
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    raise Invalid(f"cannot tell the format of {path} from its name: give --format csv or jsonl")


def read_rows(path: str, fmt: Format) -> list[tuple[int, Row | Bad]]:
    """(line number, the row or why it cannot be one) of every row of the file ("-": standard input)."""
    try:
        if path == "-":
            return list(_rows(sys.stdin, fmt))
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets start CSV with a BOM
            return list(_rows(f, fmt))
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise Invalid(f"{path} is not UTF-8 text") from None


def _rows(f: IO[str], fmt: Format) -> Iterator[tuple[int, Row | Bad]]:
    return _csv_rows(f) if fmt == "csv" else _jsonl_rows(f)


def _csv_rows(f: IO[str]) -> Iterator[tuple[int, Row | Bad]]:
    reader = csv.DictReader(f)
    header = reader.fieldnames or []
    if unknown := [c for c in header if c not in COLUMNS]:
        raise Invalid(f"unknown column(s) {', '.join(map(repr, unknown))}; the columns are {', '.join(COLUMNS)}")
    if missing := [c for c in REQUIRED if c not in header]:
        raise Invalid(f"the header row has no {', '.join(missing)} (the columns are {', '.join(COLUMNS)})")
    if len(set(header)) != len(header):
        raise Invalid("the header row names a column twice")
    last = reader.line_num
    for record in reader:
        line, last = last + 1, reader.line_num  # a quoted cell may span lines: a row starts after the previous one
        if None in record:
            yield line, Bad(line, record.get("identity"), "more cells than the header row has columns")
        else:
            yield line, _row(line, {k: v for k, v in record.items() if v})


_jsonl_decoder = msgspec.json.Decoder(float_hook=Decimal)  # coordinates keep the digits they were given


def _jsonl_rows(f: IO[str]) -> Iterator[tuple[int, Row | Bad]]:
    for line, text in enumerate(f, 1):
        if not text.strip():
            continue
        try:
            values = _jsonl_decoder.decode(text)
        except msgspec.DecodeError as exc:  # says where, never what: a password stays out of the message
            yield line, Bad(line, None, f"not JSON: {exc}")
            continue
        if isinstance(values, dict):
            yield line, _row(line, {k: v for k, v in values.items() if v is not None and v != ""})
        else:
            yield line, Bad(line, None, "not a JSON object")


def _row(line: int, values: dict[str, Any]) -> Row | Bad:
    try:
        return msgspec.convert(values, Row, strict=False)  # CSV cells are text: "230" is a number here
    except msgspec.ValidationError as exc:  # names the field; a value only of enums, never a password
        identity = values.get("identity")
        return Bad(line, identity if isinstance(identity, str) else None, _reason(exc))


def _reason(exc: msgspec.ValidationError) -> str:
    """msgspec's "Expected `int | null` >= 1 - at `$.max_voltage`" as "max_voltage: expected `int` >= 1" (an empty
    cell is a missing one: null means nothing to whoever wrote the file)."""
    message, at, where = str(exc).replace(" | null", "").rpartition(" - at `$.")
    return f"{where.rstrip('`')}: {message[:1].lower()}{message[1:]}" if at else str(exc)


# --- checking rows ----------------------------------------------------------------------------------------------


def entry(line: int, row: Row, now: datetime) -> Entry | str:
    """The row as a charger to register, or why it is bad (the rules of Charging.add, then the row's own)."""
    if problem := store.identity_problem(row.identity):
        return f"identity: {problem}"
    if row.password is not None and (problem := store.password_problem(row.password)):
        return f"password: {problem}"
    if not (row.location_id.isascii() and row.location_id.isprintable()) or "/" in row.location_id:
        return "location_id: 1 to 36 printable ASCII characters without '/'"
    try:
        party = PartyId.parse(row.party)
    except ValueError as exc:
        return str(exc)
    site = None
    if any(getattr(row, f) is not None for f in SITE):
        site = _site(row, party, now)
        if isinstance(site, str):
            return site
    template = ConnectorTemplate(**{f: getattr(row, f) for f in TEMPLATE if getattr(row, f) is not None},
                                 tariff_ids=[row.tariff_id] if row.tariff_id else [])
    return Entry(line, row.identity, party, row.location_id, row.password, template, site)


def _site(row: Row, party: PartyId, now: datetime) -> model.Location | str:
    if missing := [f for f in NEW_SITE if getattr(row, f) is None]:
        return f"{', '.join(missing)} missing: a row with Location fields gives at least {', '.join(NEW_SITE)}"
    lat, lon = _coordinate("lat", row.lat, 90), _coordinate("lon", row.lon, 180)  # type: ignore[arg-type]
    if isinstance(lat, str) or isinstance(lon, str):
        return lat if isinstance(lat, str) else lon  # type: ignore[return-value]
    time_zone = row.time_zone or DEFAULT_TIME_ZONE
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"time_zone: {time_zone!r} is not an IANA time zone (such as Europe/Amsterdam)"
    return model.Location(
        country_code=party.country_code, party_id=party.party_id, id=row.location_id, publish=True, address=row.address,  # type: ignore[arg-type]
        city=row.city, country=row.country.upper(), postal_code=row.postal_code,  # type: ignore[arg-type, union-attr]
        coordinates=model.GeoPoint(lat, lon), time_zone=time_zone, last_updated=now, name=row.name,
    )


def _coordinate(name: str, value: Decimal, bound: int) -> Decimal | str:
    if not value.is_finite() or abs(value) > bound:
        return f"{name}: {value} is not between -{bound} and {bound}"
    if value.as_tuple().exponent < -7:  # type: ignore[operator]
        value = value.quantize(Decimal("1e-7"))  # OCPI has at most 7 decimals: store what eMSPs will see
    return value


def _same_site(a: model.Location, b: model.Location) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in LOCATION_FIELDS)


def screen(entries: list[Entry]) -> tuple[list[Entry], list[Bad], dict[Key, model.Location]]:
    """What the file says as a whole: an identity once, one set of fields per Location (the first row's).
    Returns the good entries, the bad ones, and the Locations the file defines."""
    seen: dict[str, int] = {}
    sites: dict[Key, Entry] = {}
    good, bad = [], []
    for e in entries:
        if e.identity in seen:
            bad.append(Bad(e.line, e.identity, f"identity {e.identity} is on line {seen[e.identity]} already"))
            continue
        first = sites.setdefault(e.key, e) if e.site is not None else e
        if first is not e and not _same_site(first.site, e.site):  # type: ignore[arg-type]
            bad.append(Bad(e.line, e.identity, f"location {e.location_id} has other fields on line {first.line}"))
            continue
        seen[e.identity] = e.line
        good.append(e)
    return good, bad, {key: e.site for key, e in sites.items() if e.site is not None}


# --- importing --------------------------------------------------------------------------------------------------


class Passwords:
    """Generated passwords, given out once: into `path` (CSV identity,password; created for its owner only, and
    never over an existing file, which may hold passwords given out before), as each batch commits; or kept for
    the summary."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.kept: dict[str, str] = {}
        self.count = 0
        self._file: IO[str] | None = None

    def open(self) -> None:
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise Invalid(f"--passwords-out {self.path} exists (it may hold passwords given out once): name a new file") from None
        except OSError as exc:
            raise Invalid(f"--passwords-out {self.path}: {exc.strerror}") from None
        self._file = os.fdopen(fd, "w", newline="", encoding="utf-8")
        self._file.write("identity,password\n")
        self._file.flush()

    def add(self, given: dict[str, str]) -> None:
        self.count += len(given)
        if self._file is None:
            self.kept.update(given)
            return
        csv.writer(self._file, lineterminator="\n").writerows(given.items())
        self._file.flush()
        os.fsync(self._file.fileno())  # committed chargers' passwords must survive what comes next

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class Progress:
    """A line on `out` at most every PROGRESS_INTERVAL s: rows done of the total, and the rate."""

    def __init__(self, total: int, out: IO[str] | None) -> None:
        self.total, self.out = total, out
        self.started = self.last = time.monotonic()

    def rate(self, done: int) -> float:
        return done / max(time.monotonic() - self.started, 1e-6)

    def step(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if self.out is not None and (final or now - self.last >= PROGRESS_INTERVAL):
            self.last = now
            self.out.write(f"hub: {done:,}/{self.total:,} rows, {self.rate(done):,.0f} rows/s\n")
            self.out.flush()


class Importer:
    """One run of `hub chargers import`: counts, bad rows, and the passwords it gives out."""

    def __init__(self, charging: Charging, *, generate: bool = False, rotate: bool = False, batch: int = BATCH,
                 passwords: Passwords | None = None, out: IO[str] | None = None) -> None:
        self.charging = charging
        self.generate, self.rotate, self.batch = generate or rotate, rotate, max(1, batch)
        self.threads = os.cpu_count() or 2
        self.passwords = passwords or Passwords(None)
        self.out = out
        self.counts: Counter[str] = Counter()
        self.sites: Counter[str] = Counter()
        self.bad: list[Bad] = []
        self.done = 0  # rows checked and found bad, or registered
        self.stopped: str | None = None

    async def run(self, rows: Sequence[tuple[int, Row | Bad]]) -> dict[str, Any]:
        """Check, then register, every row; the summary (see `summary`)."""
        self.passwords.open()  # first: a file that cannot be made stops everything before anything is written
        try:
            progress = Progress(len(rows), self.out)
            entries, sites = self._checked(rows)
            entries = await self._parties_hosted(await self._tariffs_known(entries))
            self.done = len(self.bad)
            await self._register(entries, sites, progress)
        finally:
            self.passwords.close()
        progress.step(self.done, final=True)
        return self.summary(len(rows), progress)

    def _checked(self, rows: Sequence[tuple[int, Row | Bad]]) -> tuple[list[Entry], dict[Key, model.Location]]:
        """The rows that are good alone and in the file as a whole, and the Locations the file defines."""
        now = datetime.now(timezone.utc).replace(microsecond=0)
        entries = []
        for line, row in rows:
            found = row if isinstance(row, Bad) else entry(line, row, now)
            if isinstance(found, Entry):
                entries.append(found)
            else:
                self._refuse(found if isinstance(found, Bad) else Bad(line, row.identity, found))  # type: ignore[union-attr]
        entries, bad, sites = screen(entries)
        for b in bad:
            self._refuse(b)
        return entries, sites

    def _refuse(self, bad: Bad) -> None:
        self.bad.append(bad)
        if self.out is not None:
            self.out.write(f"hub: line {bad.line}{f' ({bad.identity})' if bad.identity else ''}: {bad.reason}\n")

    async def _tariffs_known(self, entries: list[Entry]) -> list[Entry]:
        parties = {e.party for e in entries if e.connector.tariff_ids}
        t = docs.TARIFF.table

        def op(conn: sa.Connection) -> set[tuple[PartyId, str]]:
            return {(p, tid) for p in parties for tid in conn.execute(
                sa.select(t.c.id).where(t.c.country_code == p.country_code, t.c.party_id == p.party_id)).scalars()}

        known = await self.charging.db.read(op)
        good = []
        for e in entries:
            missing = [tid for tid in e.connector.tariff_ids if (e.party, tid.upper()) not in known]
            if missing:
                self._refuse(Bad(e.line, e.identity, f"tariff_id: no tariff {missing[0]} of {e.party}"))
            else:
                good.append(e)
        return good

    async def _parties_hosted(self, entries: list[Entry]) -> list[Entry]:
        """The hub hosts the CPOs of the good rows (a party code another platform holds is refused)."""
        refused: dict[PartyId, str] = {}
        for party in sorted({e.party for e in entries}):
            try:
                await self.charging.parties.ensure_local(party, "CPO", str(party))
            except Invalid as exc:
                refused[party] = exc.message
        for e in entries:
            if e.party in refused:
                self._refuse(Bad(e.line, e.identity, refused[e.party]))
        return [e for e in entries if e.party not in refused]

    async def _register(self, entries: list[Entry], sites: dict[Key, model.Location], progress: Progress) -> None:
        """Batch after batch, each one transaction; the next batch's passwords are hashed while one is written."""
        batches = [entries[i:i + self.batch] for i in range(0, len(entries), self.batch)]
        if not batches:
            return
        first_use = _first_use(batches, sites)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="hub-pbkdf2") as pool:
            prepared = loop.create_task(self._prepare(batches[0], pool))
            try:
                for n, batch in enumerate(batches):
                    try:
                        registrations, generated = await prepared
                        if n + 1 < len(batches):
                            prepared = loop.create_task(self._prepare(batches[n + 1], pool))
                        result = await self.charging.add_many(registrations, first_use[n])
                    except sa.exc.SQLAlchemyError as exc:  # the database failed: what is committed stays, with its passwords
                        self.stopped = f"at line {batch[0].line}, the database failed: {_first_line(exc)}"
                        return
                    self._tally(batch, result, generated)
                    self.done += len(batch)
                    progress.step(self.done)
            finally:
                prepared.cancel()

    async def _prepare(self, batch: list[Entry], pool: ThreadPoolExecutor) -> tuple[list[Registration], dict[str, str]]:
        """The batch's registrations with the hashes of their new passwords, and the passwords generated. A row's
        password that the stored hash matches already is no new one."""
        stored = await self.charging.db.read(lambda conn: store.password_hashes(conn, [e.identity for e in batch]))
        generated: dict[str, str] = {}
        jobs: list[tuple[str | None, str | None]] = []  # (password, the stored hash to check it against)
        for e in batch:
            if e.password is not None:
                jobs.append((e.password, stored.get(e.identity)))
            elif self.generate and (stored.get(e.identity) is None or self.rotate):
                jobs.append((generated.setdefault(e.identity, store.new_password()), None))
            else:
                jobs.append((None, None))
        size = -(-len(jobs) // self.threads)  # one part per thread
        parts = await asyncio.gather(*(asyncio.get_running_loop().run_in_executor(pool, _hashes, jobs[i:i + size])
                                       for i in range(0, len(jobs), size)))
        hashes = [h for part in parts for h in part]
        return [Registration(e.identity, e.party, e.location_id, e.connector, h) for e, h in zip(batch, hashes)], generated

    def _tally(self, batch: list[Entry], result: Registered, generated: dict[str, str]) -> None:
        given = {}
        for n, (e, outcome) in enumerate(zip(batch, result.chargers)):
            if outcome == "refused":
                self._refuse(Bad(e.line, e.identity, result.refused[n]))
                continue
            self.counts[outcome] += 1
            if e.identity in generated:
                given[e.identity] = generated[e.identity]
        self.sites.update(result.sites)
        self.passwords.add(given)

    def summary(self, rows: int, progress: Progress) -> dict[str, Any]:
        seconds = time.monotonic() - progress.started
        out: dict[str, Any] = {
            "rows": rows, **{k: self.counts[k] for k in ("created", "updated", "unchanged")}, "bad": len(self.bad),
            "locations": {k: self.sites[k] for k in ("created", "updated", "unchanged")},
            "passwords_generated": self.passwords.count,
            "ocpp_url": self.charging.settings.ocpp_url,
            "seconds": round(seconds, 2), "rows_per_second": round(rows / max(seconds, 1e-6)),
        }
        if self.passwords.path is not None:
            out["passwords_out"] = self.passwords.path
        elif self.passwords.kept:
            out["passwords"] = self.passwords.kept  # printed once: the hub keeps only their hashes
        if self.stopped:
            out["stopped"] = self.stopped
        out["bad_rows"] = [msgspec.structs.asdict(b) for b in sorted(self.bad, key=lambda b: b.line)]
        return out


def _first_use(batches: list[list[Entry]], sites: dict[Key, model.Location]) -> list[list[model.Location]]:
    """The Locations the file defines, each with the first batch that has a charger at it."""
    taken: set[Key] = set()
    out = []
    for batch in batches:
        mine = []
        for e in batch:
            if e.key in sites and e.key not in taken:
                taken.add(e.key)
                mine.append(sites[e.key])
        out.append(mine)
    return out


def _hashes(jobs: list[tuple[str | None, str | None]]) -> list[str | None]:
    """The hash to store for each password: None for no password, or one its stored hash matches already."""
    out = []
    for password, stored in jobs:
        if password is None or (stored is not None and store.check_password(stored, password)):
            out.append(None)
        else:
            out.append(store.hash_password(password))
    return out


def _first_line(exc: sa.exc.SQLAlchemyError) -> str:
    """The driver's message without the statement and its parameters (hashes are no business of a message)."""
    return str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]


# --- exporting --------------------------------------------------------------------------------------------------


async def export_rows(charging: Charging) -> list[dict[str, Any]]:
    """Every charger as a row of the import's columns, without passwords (the hub has only their hashes)."""

    def op(conn: sa.Connection) -> list[dict[str, Any]]:
        sites: dict[Key, model.Location | None] = {}
        rows = []
        for charger in store.listing(conn):
            key = (charger.party.country_code, charger.party.party_id, charger.location_id)
            if key not in sites:
                stored = docs.get(conn, docs.LOCATION, key)  # the Location's own fields (its row holds no EVSEs)
                sites[key] = stored.obj if stored else None
            rows.append(_exported(charger, sites[key]))
        return rows

    return await charging.db.read(op)


def _exported(charger: store.Charger, site: model.Location | None) -> dict[str, Any]:
    t = charger.connector
    row: dict[str, Any] = {
        "identity": charger.identity, "party": str(charger.party), "location_id": site.id if site else charger.location_id,
        **{f: getattr(t, f) for f in TEMPLATE}, "tariff_id": t.tariff_ids[0] if t.tariff_ids else None,
    }
    if site is not None:
        row.update(address=site.address, city=site.city, postal_code=site.postal_code, country=site.country,
                   lat=site.coordinates.latitude, lon=site.coordinates.longitude, time_zone=site.time_zone, name=site.name)
    return {c: row.get(c) for c in EXPORTED}


_json = msgspec.json.Encoder(decimal_format="number")


def write_rows(rows: Sequence[dict[str, Any]], fmt: Format, out: IO[str]) -> None:
    if fmt == "csv":
        writer = csv.DictWriter(out, EXPORTED, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
        return
    for row in rows:
        out.write(_json.encode({k: v for k, v in row.items() if v is not None}).decode() + "\n")

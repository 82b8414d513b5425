"""The `hub` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from hub.model import PartyId
from hub.settings import Settings


def _settings() -> Settings:
    return Settings.from_env()


async def _with_hub(fn: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `fn(hub)` against the configured database, without serving."""
    from hub.app import Hub

    hub = Hub(_settings())
    await hub.start(serve=False)
    try:
        return await fn(hub)
    finally:
        await hub.stop()


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


# --- commands -------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> None:
    """Granian serves the app: its HTTP handling runs in Rust threads, so the Python event loop (OCPI, the
    outbox, the store) keeps a core to itself."""
    import os

    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.http import HTTP1Settings

    from hub import proc
    from hub.store.migrate import upgrade

    for name, value in (("HUB_HOST", args.host), ("HUB_PORT", args.port)):
        if value is not None:
            os.environ[name] = str(value)  # the app factory reads its settings from the environment
    if args.demo:  # the demo's parties (and its webhook listener) are whatever runs on this machine
        os.environ.setdefault("HUB_OCPI_ALLOW_PRIVATE", "true")
        os.environ.setdefault("HUB_WEBHOOK_ALLOW_PRIVATE", "true")
    settings = _settings()
    # a port held by another process (a hub left behind) stops this one before it touches anything
    proc.check_free(settings.host, settings.port, "HTTP")
    if settings.ocpp_port:
        proc.check_free(settings.host, settings.ocpp_port, "OCPP")
    os.environ[proc.PARENT] = str(os.getpid())  # the worker and the demo's chargers die with this process
    if not args.no_migrate:
        upgrade(settings.database_url)
    simulators = []
    if args.demo:
        from fixtures import demo

        partner = asyncio.run(demo.load(settings))
        simulators = [demo.start_listener(partner), *demo.start_chargers(settings, args.demo_session_seconds)]
    print(f"hub {settings.hub_party} serving OCPI at {settings.base_url}/ocpi/versions, OCPP at {settings.ocpp_url}/<identity>", flush=True)
    if args.demo:
        print(demo.partner_lines(settings, partner), flush=True)
    try:
        Granian(
            "hub.app:create_app", factory=True, address=settings.host, port=settings.port, interface=Interfaces.ASGI,
            workers=1, loop=Loops.uvloop if _has("uvloop") else Loops.asyncio, log_level=settings.log_level.lower(),  # type: ignore[arg-type]
            log_access=False, websockets=False, http=HTTPModes.http1,
            # a connection holds one of `backpressure` places while it is open, idle or not: idle and half-sent
            # connections are dropped after the header timeout, so that they cannot keep others out
            backlog=max(1024, settings.http_max_connections), backpressure=settings.http_max_connections,
            http1_settings=HTTP1Settings(header_read_timeout=int(settings.http_header_timeout * 1000), keep_alive=True),
        ).serve()
    finally:
        for simulator in simulators:
            simulator.terminate()
            simulator.wait(10)


def _has(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def cmd_secret_key(args: argparse.Namespace) -> None:
    from hub.store.secrets import new_key

    print(new_key())


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    from hub.store.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}: {settings.database_url}")


def cmd_ocpi_invite(args: argparse.Namespace) -> None:
    from connectors import bilateral

    party = PartyId.of(args.country_code, args.party_id)
    roles = list(dict.fromkeys(args.role))
    also = [(party, r) for r in roles[1:]] + sorted(_claims(args.claim))
    _print(asyncio.run(_with_hub(lambda hub: bilateral.invite(hub.ocpi, party, roles[0], args.name, also))))


def _claims(items: list[str] | None) -> set[tuple[PartyId, str]]:
    from hub.store.platforms import parse_claims

    try:
        return set(parse_claims(",".join(items or [])))
    except ValueError as exc:
        raise SystemExit(f"hub: --claim {exc}") from None


def cmd_ocpi_register(args: argparse.Namespace) -> None:
    from connectors import bilateral, upstream

    async def run(hub: Any) -> Any:
        claims = sorted(_claims(args.claim)) or None
        if args.profile == "bilateral":
            platform = await bilateral.register(hub.ocpi, args.versions_url, args.token, args.name, claims, hub.ocpi211)
        else:
            parties = [PartyId.parse(p.strip()) for p in (args.parties or "").split(",") if p.strip()]
            platform = await upstream.register(hub.ocpi, args.versions_url, args.token, args.profile, parties or None, args.name,
                                               hub.ocpi211)
        return _connection(platform)

    _print(asyncio.run(_with_hub(run)))


def _connection(platform: Any) -> dict[str, Any]:
    row = platform.row
    return {"platform": platform.id, "status": row.status, "version": row.version, "profile": row.profile or "bilateral",
            "parties": [f"{p} {r}" for p, r in platform.roles], "tenants": sorted(map(str, row.tenants)) if row.tenants else None}


def cmd_ocpi_rotate(args: argparse.Namespace) -> None:
    from connectors import upstream

    async def run(hub: Any) -> Any:
        platform = hub.core.directory.platform(args.platform)
        if platform is None:
            raise SystemExit(f"no platform {args.platform}")
        return _connection(await upstream.rotate(hub.ocpi, platform, args.token, hub.ocpi211))

    _print(asyncio.run(_with_hub(run)))


def cmd_ocpi_parties(args: argparse.Namespace) -> None:
    from connectors import bilateral

    async def run(hub: Any) -> Any:
        return bilateral.parties(hub.ocpi)

    _print(asyncio.run(_with_hub(run)))


def cmd_ocpi_sync(args: argparse.Namespace) -> None:
    from connectors import bilateral

    async def run(hub: Any) -> Any:
        platform = hub.core.directory.platform(args.platform)
        if platform is None:
            raise SystemExit(f"no platform {args.platform}")
        since = datetime.fromisoformat(args.since.replace("Z", "+00:00")) if args.since else None
        pulled = await bilateral.pull(hub.ocpi, platform, since)
        await hub.core.parties.resync(platform.id, None if since is None else int(since.timestamp() * 1e6))
        return {"pulled": pulled, "pushed": "queued in the outbox"}

    _print(asyncio.run(_with_hub(run)))


def _hubject(fn: Callable[[Any], Awaitable[Any]]) -> None:
    """Run `fn(connector)`; an id that names no party is bad input too."""
    from protocols.oicp.v23.mapping import Unmappable

    async def run(hub: Any) -> Any:
        try:
            return await fn(hub.hubject)
        except Unmappable as exc:
            raise SystemExit(f"hub: {exc}") from None

    _print(asyncio.run(_with_hub(run)))


def cmd_hubject_configure(args: argparse.Namespace) -> None:
    async def run(hubject: Any) -> Any:
        config = await hubject.hubject.configure(args.base_url, cert=args.cert, key=args.key, ca=args.ca,
                                                 inbound_allow=args.inbound_allow, party=PartyId.parse(args.party) if args.party else None)
        return {"base_url": config.base_url, "mutual_tls": config.cert is not None, "inbound_allow": config.inbound_allow,
                "inbound_url": f"{_settings().base_url}/oicp (Hubject appends its own path)"}

    _hubject(run)


def cmd_hubject_add_operator(args: argparse.Namespace) -> None:
    async def run(hubject: Any) -> Any:
        operator = await hubject.hubject.add_operator(PartyId.parse(args.party), args.operator_id, args.hotline, args.name)
        return {"party": args.party, "operator_id": operator.operator_id}

    _hubject(run)


def cmd_hubject_add_provider(args: argparse.Namespace) -> None:
    async def run(hubject: Any) -> Any:
        return {"party": args.party, "provider_id": await hubject.hubject.add_provider(PartyId.parse(args.party), args.provider_id)}

    _hubject(run)


def cmd_hubject_sync(args: argparse.Namespace) -> None:
    async def run(hubject: Any) -> Any:
        done = await hubject.sync(full=args.full, force=args.force)
        if not all(step["ok"] for step in done):
            _print(done)
            raise SystemExit(1)
        return done

    _hubject(run)


def cmd_hubject_status(args: argparse.Namespace) -> None:
    async def run(hubject: Any) -> Any:
        return hubject.status()

    _hubject(run)


def cmd_outbox_list(args: argparse.Namespace) -> None:
    from hub.store import outbox

    async def run(hub: Any) -> Any:
        events = await hub.core.db.read(lambda c: outbox.listing(c, args.status, args.platform, args.limit))
        counts = await hub.core.db.read(outbox.counts)
        rows = [{"seq": e.seq, "platform": e.destination, "kind": e.kind, "op": e.op, "path": e.path, "status": e.status,
                 "attempts": e.attempts, "last_error": e.last_error} for e in events]
        return {"counts": counts, "events": rows}

    _print(asyncio.run(_with_hub(run)))


def cmd_outbox_replay(args: argparse.Namespace) -> None:
    from hub.store import outbox

    async def run(hub: Any) -> Any:
        n = await hub.core.db.write(lambda tx: outbox.replay(tx, args.seq or None, args.platform))
        return {"replayed": n}

    _print(asyncio.run(_with_hub(run)))


def cmd_chargers_add(args: argparse.Namespace) -> None:
    from decimal import Decimal

    from hub import model
    from hub.store.chargers import ConnectorTemplate

    async def run(hub: Any) -> Any:
        party = PartyId.parse(args.party)
        location: Any = args.location_id
        if args.address:
            if not (args.city and args.country and args.lat is not None and args.lon is not None):
                raise SystemExit("--address needs --city, --country, --lat and --lon")
            now = datetime.now(timezone.utc).replace(microsecond=0)
            location = model.Location(
                country_code=party.country_code, party_id=party.party_id, id=args.location_id, publish=True,
                address=args.address, city=args.city, country=args.country.upper(), postal_code=args.postal_code,
                coordinates=model.GeoPoint(Decimal(f"{args.lat:.6f}"), Decimal(f"{args.lon:.6f}")),
                time_zone=args.time_zone, last_updated=now, name=args.name,
            )
        template = ConnectorTemplate(standard=args.standard, format=args.format, power_type=args.power_type,
                                     max_voltage=args.max_voltage, max_amperage=args.max_amperage,
                                     tariff_ids=[args.tariff_id] if args.tariff_id else [])
        charger = await hub.core.charging.add(args.identity, party, location, args.password, template)
        return {"identity": charger.identity, "ocpp_url": f"{hub.settings.ocpp_url}/{charger.identity}", "location_id": charger.location_id}

    _print(asyncio.run(_with_hub(run)))


def cmd_chargers_list(args: argparse.Namespace) -> None:
    async def run(hub: Any) -> Any:
        return [{"identity": c.identity, "party": str(c.party), "location_id": c.location_id, "protocol": c.protocol,
                 "connected": c.instance is not None, "boot": c.boot} for c in await hub.core.charging.listing()]

    _print(asyncio.run(_with_hub(run)))


def cmd_chargers_import(args: argparse.Namespace) -> None:
    from hub.services import onboarding

    if args.batch < 1:
        raise SystemExit("hub: --batch is at least 1")
    if args.passwords_out and not (args.generate_passwords or args.rotate_passwords):
        raise SystemExit("hub: --passwords-out needs --generate-passwords (or --rotate-passwords)")
    rows = onboarding.read_rows(args.file, onboarding.format_of(args.file, args.format))  # a bad file costs no start

    async def run(hub: Any) -> Any:
        importer = onboarding.Importer(hub.core.charging, generate=args.generate_passwords, rotate=args.rotate_passwords,
                                       batch=args.batch, passwords=onboarding.Passwords(args.passwords_out), out=sys.stderr)
        return await importer.run(rows)

    summary = asyncio.run(_with_hub(run))
    _print(summary)
    if summary["bad"] or "stopped" in summary:
        sys.exit(1)


def cmd_chargers_export(args: argparse.Namespace) -> None:
    from hub.services import onboarding

    fmt = onboarding.format_of(args.out, args.format) if args.out else (args.format or "csv")
    rows = asyncio.run(_with_hub(lambda hub: onboarding.export_rows(hub.core.charging)))
    if args.out is None:
        onboarding.write_rows(rows, fmt, sys.stdout)
        return
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        onboarding.write_rows(rows, fmt, f)
    print(f"hub: {len(rows):,} chargers written to {args.out}", file=sys.stderr)


def cmd_simulate(args: argparse.Namespace) -> None:
    from hub import proc
    from protocols.ocpp import simulator

    proc.die_with_parent()  # the demo's chargers go with the `hub serve --demo` that started them

    if args.register:
        party_text, _, location_id = args.register.partition(":")

        async def register(hub: Any) -> None:
            for n in range(1, args.chargers + 1):
                await hub.core.charging.add(f"{args.prefix}-{n}", PartyId.parse(party_text), location_id, args.password)

        asyncio.run(_with_hub(register))
    asyncio.run(simulator.main(args))


def cmd_webhooks_listen(args: argparse.Namespace) -> None:
    """A webhook receiver on loopback that prints each event (and whether its Standard Webhooks signature holds)."""
    from fixtures.webhook_receiver import Answer, WebhookReceiver
    from hub import proc
    from protocols.partner import hooks

    proc.die_with_parent()

    def respond(got: Any) -> Any:
        event = json.loads(got.body)
        data = event.get("data") or {}
        signed = got.headers.get("webhook-signature", "")
        ok = not args.secret or any(s in signed.split(" ") for s in hooks.standard_signature(
            (args.secret,), got.headers.get("webhook-id", ""), int(got.headers.get("webhook-timestamp", "0") or 0), got.body).split(" "))
        print(f"webhook {event.get('type')} {data.get('id', '') if isinstance(data, dict) else ''}"
              f"{'' if ok else '  (BAD SIGNATURE)'}", flush=True)
        return Answer(200)

    async def run() -> None:
        receiver = await WebhookReceiver(respond).start(args.port)
        print(f"listening for webhooks at {receiver.url}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


def cmd_credentials_create(args: argparse.Namespace) -> None:
    from hub.services.scopes import Scopes

    Scopes.parse(args.scopes)  # a bad scope costs no start (HubError: said without a traceback)
    if not args.admin and not args.party:
        raise SystemExit("hub: --party CC/PID is required (or --admin, which acts for the hub operator)")
    try:
        party = PartyId.parse(args.party) if args.party else None
    except ValueError as exc:
        raise SystemExit(f"hub: --party: {exc}") from None

    async def run(hub: Any) -> Any:
        client_id, secret = await hub.core.consumers.create(party, args.scopes, args.name, args.rate_limit, args.rate_window, args.admin)
        return {"clientId": client_id, "clientSecret": secret}

    _print(asyncio.run(_with_hub(run)))


def cmd_credentials_list(args: argparse.Namespace) -> None:
    from hub.store.documents import from_us

    def when(us: int | None) -> str | None:
        return None if us is None else from_us(us).isoformat().replace("+00:00", "Z")

    async def run(hub: Any) -> Any:
        return [{"clientId": c.client_id, "name": c.name, "party": c.party and str(c.party), "admin": c.admin,
                 "scopes": c.scopes.names(), "rateLimit": c.rate_limit, "rateWindow": c.rate_window,
                 "createdAt": when(c.created_us), "revokedAt": when(c.revoked_us)} for c in await hub.core.consumers.listing()]

    _print(asyncio.run(_with_hub(run)))


def cmd_credentials_revoke(args: argparse.Namespace) -> None:
    async def run(hub: Any) -> Any:
        await hub.core.consumers.revoke(args.client_id)
        return {"clientId": args.client_id, "revoked": True}

    _print(asyncio.run(_with_hub(run)))


# --- parser ---------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hub", description="EV roaming hub and interop gateway")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the hub (HTTP: OCPI; settings from HUB_* environment variables)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--demo", action="store_true",
                   help="load the demo parties and data from fixtures/ first, and run its two simulated chargers")
    s.add_argument("--demo-session-seconds", type=float, default=30.0, help="how long the demo chargers' sessions last")
    s.add_argument("--no-migrate", action="store_true", help="do not upgrade the database schema first")
    s.set_defaults(fn=cmd_serve)

    sk = sub.add_parser("secret-key", help="print a new key for HUB_SECRET_KEY (encrypts the tokens the hub presents to others)")
    sk.set_defaults(fn=cmd_secret_key)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    u = db.add_parser("upgrade", help="apply the migrations (HUB_DATABASE_URL)")
    u.add_argument("revision", nargs="?", default="head")
    u.set_defaults(fn=cmd_db_upgrade)

    o = sub.add_parser("ocpi", help="OCPI parties (2.2.1 and 2.1.1)").add_subparsers(dest="ocpi_command", required=True)
    i = o.add_parser("invite", help="issue a token A for a party that will register with the hub; prints JSON")
    i.add_argument("--country-code", required=True)
    i.add_argument("--party-id", required=True)
    i.add_argument("--role", required=True, action="append", choices=["CPO", "EMSP", "NSP", "NAP", "SCSP", "OTHER"],
                   help="the role it may hold (repeat for several)")
    i.add_argument("--claim", action="append", metavar="CC/PID:ROLE",
                   help="another party code and role it may hold (repeatable); nothing else can be claimed")
    i.add_argument("--name")
    i.set_defaults(fn=cmd_ocpi_invite)
    r = o.add_parser("register", help="register the hub with a peer that gave it a token A (the hub must be serving)")
    r.add_argument("--versions-url", required=True)
    r.add_argument("--token", required=True, help="the peer's token A")
    r.add_argument("--claim", action="append", metavar="CC/PID:ROLE",
                   help="a party and role the peer may hold (repeatable; default: what it declares now, fixed from then on)")
    r.add_argument("--name")
    r.add_argument("--profile", choices=["bilateral", "gireve", "emobi"], default="bilateral",
                   help="bilateral: a peer (2.2.1, else 2.1.1); gireve, emobi: an upstream hub the hub is a platform behind")
    r.add_argument("--parties", metavar="CC/PID,...", help="with an upstream hub: the hub's parties it carries (default: all it hosts)")
    r.set_defaults(fn=cmd_ocpi_register)
    ro = o.add_parser("rotate", help="new credentials with an upstream hub that has no PUT credentials (Gireve): DELETE, register again")
    ro.add_argument("--platform", type=int, required=True)
    ro.add_argument("--token", required=True, help="its new token A")
    ro.set_defaults(fn=cmd_ocpi_rotate)
    pa = o.add_parser("parties", help="connected platforms: version, profile, parties, tenants, status")
    pa.set_defaults(fn=cmd_ocpi_parties)
    sy = o.add_parser("sync", help="re-sync a platform: pull from its Sender interfaces, queue what it should have")
    sy.add_argument("--platform", type=int, required=True)
    sy.add_argument("--since", help="only changes since this RFC 3339 time")
    sy.set_defaults(fn=cmd_ocpi_sync)

    hj = sub.add_parser("hubject", help="Hubject (OICP 2.3) for the hub's operators and eMSPs").add_subparsers(dest="hubject_command", required=True)
    hc = hj.add_parser("configure", help="Hubject's base URL and the hub's certificate; prints JSON")
    hc.add_argument("--base-url", required=True, help="up to and including /api/oicp, e.g. https://service-qa.hubject.com/api/oicp")
    hc.add_argument("--cert", help="the operator's client certificate (PEM) for mutual TLS")
    hc.add_argument("--key", help="its private key (PEM)")
    hc.add_argument("--ca", help="Hubject's root and intermediate CA (PEM)")
    hc.add_argument("--inbound-allow", action="append", metavar="CIDR",
                    help="a network Hubject's calls may come from (repeatable; default loopback: put a TLS terminator that "
                         "checks Hubject's client certificate in front)")
    hc.add_argument("--party", help="Hubject's own party code in the hub (default DE/HBS)")
    hc.set_defaults(fn=cmd_hubject_configure)
    ho = hj.add_parser("add-operator", help="a CPO of the hub whose EVSEs go to Hubject")
    ho.add_argument("--party", required=True, help="CC/PID")
    ho.add_argument("--operator-id", required=True, help="its OperatorID at Hubject, e.g. 'NL*GRN'")
    ho.add_argument("--hotline", required=True, help="the hotline Hubject shows with every EVSE, + and 5 to 15 digits")
    ho.add_argument("--name", help="the operator's name (default: its Locations' operator)")
    ho.set_defaults(fn=cmd_hubject_add_operator)
    hp = hj.add_parser("add-provider", help="an eMSP of the hub that roams through Hubject")
    hp.add_argument("--party", required=True, help="CC/PID")
    hp.add_argument("--provider-id", required=True, help="its ProviderID at Hubject, e.g. 'NL-DEM'")
    hp.set_defaults(fn=cmd_hubject_add_provider)
    hs = hj.add_parser("sync", help="push the operators' EVSE data and pull Hubject's for the providers, now")
    hs.add_argument("--full", action="store_true", help="full loads and full pulls (else the deltas)")
    hs.add_argument("--force", action="store_true", help="send a full load even when the guard refuses it (empty or much shorter)")
    hs.set_defaults(fn=cmd_hubject_sync)
    hst = hj.add_parser("status", help="the configuration and the last syncs with their results")
    hst.set_defaults(fn=cmd_hubject_status)

    ch = sub.add_parser("chargers", help="chargers the hub runs (OCPP)").add_subparsers(dest="chargers_command", required=True)
    ca = ch.add_parser("add", help="register a charger for a CPO at a location (created when --address is given); prints JSON")
    ca.add_argument("--identity", required=True, help="the OCPP charge point identity (the last part of its URL)")
    ca.add_argument("--party", required=True, help="the CPO, CC/PID")
    ca.add_argument("--location-id", required=True)
    ca.add_argument("--password", help="HTTP Basic password (OCPP security profile 1)")
    ca.add_argument("--address")
    ca.add_argument("--city")
    ca.add_argument("--postal-code")
    ca.add_argument("--country", help="ISO 3166 alpha-3, e.g. NLD")
    ca.add_argument("--lat", type=float)
    ca.add_argument("--lon", type=float)
    ca.add_argument("--time-zone", default="Europe/Amsterdam")
    ca.add_argument("--name")
    ca.add_argument("--tariff-id", help="the CPO's tariff for its connectors")
    ca.add_argument("--standard", default="IEC_62196_T2")
    ca.add_argument("--format", default="SOCKET", choices=["SOCKET", "CABLE"])
    ca.add_argument("--power-type", default="AC_3_PHASE", choices=["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"])
    ca.add_argument("--max-voltage", type=int, default=230)
    ca.add_argument("--max-amperage", type=int, default=32)
    ca.set_defaults(fn=cmd_chargers_add)
    cl = ch.add_parser("list", help="identity, protocol, connected")
    cl.set_defaults(fn=cmd_chargers_list)
    ci = ch.add_parser(
        "import", help="register many chargers (and their Locations) from a CSV or JSON lines file; prints a JSON summary",
        description="Columns (CSV header row, or JSON keys): identity, party (CC/PID), location_id, password, address, city, "
                    "postal_code, country (ISO alpha-3), lat, lon, time_zone, name (of the Location), standard, format, power_type, "
                    "max_voltage, max_amperage, max_electric_power, tariff_id. A row whose Location does not exist gives its "
                    "address, city, country, lat and lon; rows with the same location_id share one Location. Bad rows are "
                    "reported with their line number (the others are imported; the exit status is then 1). Running a file again "
                    "changes only what differs; an empty password keeps the charger's own.")
    ci.add_argument("file", help="the file ('-': standard input, with --format)")
    ci.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file name (.csv, .jsonl)")
    ci.add_argument("--generate-passwords", action="store_true",
                    help="a random 24-character password for every charger that has none yet (in the file or the hub)")
    ci.add_argument("--rotate-passwords", action="store_true",
                    help="a new random password also for chargers that have one (those the file gives none)")
    ci.add_argument("--passwords-out", metavar="FILE",
                    help="write generated passwords here (CSV identity,password; a new file, readable by its owner only) "
                         "instead of into the summary; they are shown once")
    ci.add_argument("--batch", type=int, default=500, help="rows per database transaction (default %(default)s)")
    ci.set_defaults(fn=cmd_chargers_import)
    ce = ch.add_parser("export", help="every charger with its party, Location and connector template, in the columns import takes",
                       description="Passwords are not exported: the hub stores only their hashes. Import the file on another hub "
                                   "with --generate-passwords (or add a password column) to give the chargers passwords there.")
    ce.add_argument("--format", choices=["csv", "jsonl"], help="default: from --out's name, else csv")
    ce.add_argument("--out", metavar="FILE", help="default: standard output")
    ce.set_defaults(fn=cmd_chargers_export)

    si = sub.add_parser("simulate", help="simulated chargers (the ocpp library's ChargePoint) against a running hub")
    si.add_argument("--hub-url", required=True, help="ws://HOST:PORT (the hub's OCPP server)")
    si.add_argument("--chargers", type=int, default=1)
    si.add_argument("--ocpp", choices=["1.6", "2.0.1"], default="1.6")
    si.add_argument("--sessions", action="store_true", help="run charging sessions with meter values")
    si.add_argument("--prefix", default="SIM", help="identities are PREFIX-1 ... PREFIX-N")
    si.add_argument("--password", help="HTTP Basic password of the chargers")
    si.add_argument("--id-tag", default="04A1B2C3D4E5F6", help="the RFID uid the simulated drivers present")
    si.add_argument("--session-seconds", type=float, default=20.0)
    si.add_argument("--meter-interval", type=float, default=5.0)
    si.add_argument("--count", type=int, default=0, help="stop after this many sessions per charger (0: keep going)")
    si.add_argument("--register", metavar="CC/PID:LOCATION", help="register the chargers first (in HUB_DATABASE_URL)")
    si.set_defaults(fn=cmd_simulate)

    cr = sub.add_parser("credentials", help="partner API credentials (/api/v1)").add_subparsers(dest="credentials_command", required=True)
    cc = cr.add_parser("create", help="a credential acting for one party; prints JSON {clientId, clientSecret} (the secret is shown once)")
    cc.add_argument("--party", metavar="CC/PID", help="the party it acts for: one the hub hosts, or one an OCPI platform holds")
    cc.add_argument("--scopes", required=True, help="ENTITY:PERMISSION,... (read < write < delete; all: for every entity), e.g. all:read,charges:write")
    cc.add_argument("--name")
    cc.add_argument("--rate-limit", type=int, default=1000, help="requests per window (default %(default)s)")
    cc.add_argument("--rate-window", type=int, default=600, metavar="SECONDS", help="the quota's window (default %(default)s)")
    cc.add_argument("--admin", action="store_true", help="act for the hub operator and see every party (no --party)")
    cc.set_defaults(fn=cmd_credentials_create)
    cli = cr.add_parser("list", help="every credential (never its secret)")
    cli.set_defaults(fn=cmd_credentials_list)
    crv = cr.add_parser("revoke", help="the credential and its tokens stop working at once")
    crv.add_argument("client_id")
    crv.set_defaults(fn=cmd_credentials_revoke)

    wh = sub.add_parser("webhooks", help="webhooks of the partner API").add_subparsers(dest="webhooks_command", required=True)
    wl = wh.add_parser("listen", help="a receiver on loopback that prints each event it gets (the demo's)")
    wl.add_argument("--port", type=int, default=8001)
    wl.add_argument("--secret", help="the endpoint's whsec_ secret: each event's signature is checked")
    wl.set_defaults(fn=cmd_webhooks_listen)

    ob = sub.add_parser("outbox", help="the delivery queue").add_subparsers(dest="outbox_command", required=True)
    ol = ob.add_parser("list", help="recent events and counts per status")
    ol.add_argument("--status", choices=["pending", "inflight", "done", "parked", "skipped"])
    ol.add_argument("--platform", type=int)
    ol.add_argument("--limit", type=int, default=50)
    ol.set_defaults(fn=cmd_outbox_list)
    orp = ob.add_parser("replay", help="send parked (or skipped) events again")
    orp.add_argument("seq", nargs="*", type=int)
    orp.add_argument("--platform", type=int)
    orp.set_defaults(fn=cmd_outbox_replay)
    return p


def main(argv: list[str] | None = None) -> None:
    import sqlalchemy as sa

    from hub.services.errors import HubError
    from hub.store.secrets import SecretKeyError

    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except KeyboardInterrupt:
        sys.exit(130)
    except HubError as exc:  # bad input: say what is wrong, no traceback
        sys.exit(f"hub: {exc.message}")
    except SecretKeyError as exc:
        sys.exit(f"hub: {exc}")
    except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            sys.exit("hub: the database has no schema yet: run `hub db upgrade` (or `hub serve`, which migrates first)")
        raise


if __name__ == "__main__":
    main()

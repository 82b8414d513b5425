"""Writes and reads of the canonical objects: ownership, PUT/PATCH semantics, fan-out into the outbox.

Every write is one transaction holding the new state and the outbox events for everyone who must hear
about it. `caller` is the platform that sent the change, or None when the hub itself is the source (its
chargers, the demo data). `deliver=False` stores without fanning out: the caller forwards the change to
one addressed receiver itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa

from hub import model
from hub.model import PartyId
from hub.services import visibility
from hub.services.catalog import Catalog, Form, change_payload
from hub.services.directory import Directory, Platform
from hub.services.errors import Conflict, Exists, Invalid, NotFound, NotOwner, UnknownLocation
from hub.services.webhooks import Webhooks
from hub.store import documents as docs
from hub.store import locations, outbox
from hub.store.chargers import split_evse_uid
from hub.store.db import Database, Tx

S = TypeVar("S", bound=msgspec.Struct)
Renderer = locations.Rendering  # the primary wire format the store keeps beside each document (the app injects it)

IDENTITY = {"country_code", "party_id", "id", "uid", "type"}


def _replace(obj: S, changes: dict[str, Any]) -> S:
    return msgspec.structs.replace(obj, **changes)


def merge_by(items: Sequence[S], updates: Sequence[S], key: str) -> list[S]:
    """PATCH of a list of identified items: replace matches, append new ones, never drop the rest."""
    index = {getattr(u, key).upper(): u for u in updates}
    out = [index.pop(getattr(i, key).upper(), i) for i in items]
    return out + list(index.values())


def _check_patch(changes: dict[str, Any]) -> None:
    if "last_updated" not in changes:
        raise Invalid("required in a PATCH", "last_updated")
    for name in IDENTITY & changes.keys():
        raise Invalid("an identifier cannot be changed by PATCH", name)


class Objects:
    def __init__(self, db: Database, directory: Directory, rendering: Renderer, webhooks: Webhooks, page_cache_bytes: int = 0) -> None:
        self.db = db
        self.directory = directory
        self.rendering = rendering
        self.webhooks = webhooks
        whole = lambda conn, keys: locations.rendered_by_keys(conn, keys, rendering.assemble_location)  # noqa: E731
        self.catalogs = {
            "location": Catalog(db, docs.LOCATION, page_cache_bytes // 2, whole, locations.objects_by_keys),
            "tariff": Catalog(db, docs.TARIFF, page_cache_bytes // 2, lambda conn, keys: docs.rendered_by_keys(conn, docs.TARIFF, keys),
                              lambda conn, keys: docs.objects_by_keys(conn, docs.TARIFF, keys)),
        }

    # --- helpers -----------------------------------------------------------------------------

    def check_owner(self, caller: Platform | None, owner: PartyId, kind: str) -> None:
        if caller is None:
            return
        if owner not in caller.parties_with_role(visibility.OWNER_ROLE[kind]):
            raise NotOwner(f"{owner} is not a {visibility.OWNER_ROLE[kind]} party of this platform")

    def _save(
        self, tx: Tx, kind: docs.Kind, obj: Any, source: int | None, exists: bool | None = None, whole: bool = True
    ) -> tuple[bool, frozenset[PartyId]]:
        """Store a new version: (is it new, the audience of an unpublished Location). A Location `whole` with its
        EVSEs, or else its own fields only (one EVSE of it changed: hub/store/locations.py)."""
        audience = visibility.audience(tx.conn, obj) if kind is docs.LOCATION else visibility.NOBODY
        extra: dict[str, Any] = {"stored_us": docs.now_us()}
        if kind is docs.LOCATION:
            extra["audience"] = visibility.audience_text(audience)
            save = locations.save if whole else locations.save_shell
            created = save(tx, obj, self.rendering, source, extra, exists)
        else:
            created = docs.save(tx, kind, obj, self.rendering.render(kind.name, obj), source, exists, extra)
        key = kind.key(obj)
        if kind.name in self.catalogs:
            published = obj.publish if kind is docs.LOCATION else True
            tx.notify(kind.name, change_payload(key, docs.to_us(obj.last_updated), extra["stored_us"], published, extra.get("audience")))
        else:
            tx.notify(kind.name, "/".join(key))
        return created, audience

    def _fan_out(
        self, tx: Tx, kind: str, root: Any, source: int | None, event: outbox.Draft, correlation_id: str | None,
        audience: frozenset[PartyId] = visibility.NOBODY,
    ) -> None:
        targets = visibility.receivers(self.directory, kind, root, source, audience)
        live = [p.id for p in targets if p.connected]
        away = [p.id for p in targets if not p.connected]
        if away and outbox.refreshable(event.stream):  # sent as it is when they are back: no queue of changes
            outbox.mark_stale(tx, away, event.stream)
        else:
            live += away
        outbox.enqueue(tx, live, msgspec.structs.replace(event, correlation_id=correlation_id))

    def _refresh_audiences(self, tx: Tx) -> None:
        """A token changed: the unpublished Locations it may open up (or close) get their audience again."""
        t = docs.LOCATION.table
        for row in tx.execute(sa.select(t.c.doc, t.c.audience).where(sa.not_(t.c.published))):
            loc = docs.LOCATION.decode(row.doc)
            text = visibility.audience_text(visibility.audience(tx.conn, loc))
            if text != row.audience:
                key = docs.LOCATION.key(loc)
                stored = docs.now_us()
                tx.execute(sa.update(t).where(docs.LOCATION.where_key(key)).values(audience=text, stored_us=stored))
                tx.notify("location", change_payload(key, docs.to_us(loc.last_updated), stored, False, text))

    @staticmethod
    def _stream(kind: docs.Kind, obj: Any) -> str:
        return f"{kind.name}:" + "/".join(kind.key(obj))

    def _announce(self, tx: Tx, type_: str, kind: docs.Kind, obj: Any, audience: frozenset[PartyId] = visibility.NOBODY) -> None:
        """Webhook events of a change (whoever made it, also when the caller forwards it itself)."""
        self.webhooks.announce(tx, type_, kind.name, obj, self._stream(kind, obj), audience=audience)

    def _announce_evse(self, tx: Tx, loc: model.Location, evse: model.Evse, before: model.Evse | None, created: bool,
                       audience: frozenset[PartyId]) -> None:
        if created:
            type_ = "charge_point.created"
        elif evse.status == "REMOVED" and (before is None or before.status != "REMOVED"):
            type_ = "charge_point.deleted"
        elif before is not None and before.status != evse.status:
            type_ = "charge_point.status_changed"
        else:
            type_ = "charge_point.updated"
        self.webhooks.announce(tx, type_, "evse", evse, _evse_stream(loc, evse), site=loc, audience=audience)

    def announce_charger(self, tx: Tx, owner: PartyId, location_id: str, identity: str, type_: str) -> None:
        """A webhook event about each EVSE of a charger of the hub's central system (it connected, disconnected)."""
        if not self.directory.hooks():
            return
        stored = locations.get(tx.conn, (owner.country_code, owner.party_id, location_id.upper()))
        if stored is None:
            return
        shell = locations.shell_of(stored.obj)
        for evse in stored.obj.evses:
            if (split_evse_uid(evse.uid) or ("",))[0] == identity.upper():
                self.webhooks.announce(tx, type_, "evse", evse, _evse_stream(shell, evse), site=shell,
                                       audience=visibility.audience_set(stored.audience))

    # --- objects a platform must get again, as they are now ---------------------------------------------

    async def owe(self, platform: Platform, kind: docs.Kind, obj: Any) -> None:
        """`platform` did not get this object (a forward failed): it gets it when it takes pushes again, as it
        is then (a CDR, which never changes, as it was)."""
        stream = self._stream(kind, obj)

        def op(tx: Tx) -> None:
            if outbox.refreshable(stream):
                outbox.mark_stale(tx, [platform.id], stream)
            else:
                outbox.enqueue(tx, [platform.id], outbox.Draft(stream, kind.name, "post", _path(obj), docs.encode(obj)))

        await self.db.write(op)

    async def refresh(self, platform: Platform, streams: list[str]) -> None:
        """Queue the current state of these objects for `platform` (those it may still see; a tariff that is gone,
        as a delete)."""

        def op(tx: Tx) -> None:
            for stream in streams:
                draft = self._current(tx.conn, platform, stream)
                if draft is not None:
                    outbox.enqueue(tx, [platform.id], draft)

        await self.db.write(op)

    def _current(self, conn: sa.Connection, platform: Platform, stream: str) -> outbox.Draft | None:
        name, _, text = stream.partition(":")
        kind = docs.KINDS[name]
        key = _key_of(text, typed=kind is docs.TOKEN)
        stored = _get(conn, kind, key)
        if stored is None:
            if kind is docs.TARIFF:
                return outbox.Draft(stream, "tariff", "delete", "/".join(key), b"{}")
            return None
        obj = stored.obj
        if not visibility.may_read(self.directory, platform, name, obj, visibility.audience_set(stored.audience)):
            return None
        return outbox.Draft(stream, name, "put", _path(obj), docs.encode(obj))

    # --- reads -------------------------------------------------------------------------------

    async def get(self, reader: Platform | None, kind: docs.Kind[S], key: Sequence[str]) -> S:
        """One object; NotFound also when the reader may not see it (no existence leak)."""
        key = [k.upper() if i < len(key) - (kind is docs.TOKEN) else k for i, k in enumerate(key)]

        def op(conn: sa.Connection) -> S | None:
            stored = _get(conn, kind, key)
            if stored is None:
                return None
            if reader is not None and not visibility.may_read(
                self.directory, reader, kind.name, stored.obj, visibility.audience_set(stored.audience)
            ):
                return None
            return stored.obj

        obj = await self.db.read(op)
        if obj is None:
            raise NotFound(f"unknown {kind.name}")
        return obj

    async def page(
        self, reader: Platform, kind: docs.Kind, window: docs.Window, owner: PartyId | None = None, form: Form | None = None
    ) -> tuple[list[bytes], int]:
        """One page of what `reader` may see (of one owner's objects only, when given); in `form` (a catalogued kind
        only, without owner), else as the store keeps it."""

        catalog = self.catalogs.get(kind.name)
        if catalog is not None and owner is None:
            return await catalog.page(visibility.lens(self.directory, reader, kind.name), window, form)
        if form is not None:
            raise ValueError(f"{kind.name}: only catalogued kinds are served in another form")

        def op(conn: sa.Connection) -> tuple[list[bytes], int]:
            visible = visibility.visible_clause(self.directory, reader, kind)
            if owner is not None:
                t = kind.table
                visible = sa.and_(visible, t.c.country_code == owner.country_code, t.c.party_id == owner.party_id)
            if kind is not docs.LOCATION:
                return docs.page(conn, kind, visible, window)
            keys, total = docs.page_keys(conn, kind, visible, window)
            found = locations.rendered_by_keys(conn, keys, self.rendering.assemble_location)
            return [found[k][1] for k in keys if k in found], total

        return await self.db.read(op)

    async def page_objects(self, reader: Platform, kind: docs.Kind[S], window: docs.Window) -> tuple[list[S], int]:
        """`page` as canonical objects, for a surface that renders them in a format the store does not keep (not for
        Locations, whose rows are shells: the catalog serves them in other forms)."""

        def op(conn: sa.Connection) -> tuple[list[S], int]:
            found, total = docs.page(conn, kind, visibility.visible_clause(self.directory, reader, kind), window, column="doc")
            return [kind.decode(doc) for doc in found], total

        return await self.db.read(op)

    async def find_location_owner(self, location_id: str) -> PartyId | None:
        t = docs.LOCATION.table

        def op(conn: sa.Connection) -> PartyId | None:
            rows = conn.execute(sa.select(t.c.country_code, t.c.party_id).where(t.c.id == location_id.upper())).all()
            return PartyId(*rows[0]) if len(rows) == 1 else None

        return await self.db.read(op)

    async def exists(self, kind: docs.Kind, key: Sequence[str]) -> bool:
        key = [k.upper() for k in key]
        return await self.db.read(lambda conn: docs.get(conn, kind, key) is not None)

    async def location(self, owner: PartyId, location_id: str, with_evses: bool = True) -> model.Location | None:
        """A Location as the hub holds it (without its EVSEs, when they are not needed: cheaper at a big site)."""
        key = (owner.country_code, owner.party_id, location_id.upper())
        stored = await self.db.read(lambda conn: locations.get(conn, key, with_evses=with_evses))
        return None if stored is None else stored.obj

    async def evse(self, owner: PartyId, location_id: str, uid: str) -> model.Evse | None:
        """One EVSE of a Location, read alone."""
        key = (owner.country_code, owner.party_id, location_id.upper())
        found = await self.db.read(lambda conn: locations.evse(conn, key, uid))
        return None if found is None else found[0]

    async def active_sessions_at(self, cpo: PartyId, location_id: str, evse_uid: str) -> list[model.Session]:
        t = docs.SESSION.table

        def op(conn: sa.Connection) -> list[model.Session]:
            rows = conn.execute(sa.select(t.c.doc).where(
                t.c.location_id == location_id.upper(), t.c.evse_uid == evse_uid.upper(), t.c.status == "ACTIVE",
                t.c.country_code == cpo.country_code, t.c.party_id == cpo.party_id))
            return [docs.SESSION.decode(r.doc) for r in rows]

        return await self.db.read(op)

    async def find_token(self, uid: str, type_: str) -> model.Token | None:
        t = docs.TOKEN.table

        def op(conn: sa.Connection) -> model.Token | None:
            rows = conn.execute(sa.select(t.c.doc).where(t.c.uid == uid.upper(), t.c.type == type_)).all()
            return docs.TOKEN.decode(rows[0].doc) if len(rows) == 1 else None

        return await self.db.read(op)

    async def find_token_by_contract(self, contract_id: str) -> model.Token | None:
        """The token with this contract id (OCPI 2.1.1 names a Session's or CDR's token by it alone), RFID first."""
        t = docs.TOKEN.table

        def op(conn: sa.Connection) -> model.Token | None:
            rows = conn.execute(sa.select(t.c.doc).where(t.c.contract_id == contract_id.upper()).order_by(t.c.type != "RFID", t.c.type)).all()
            return docs.TOKEN.decode(rows[0].doc) if rows else None

        return await self.db.read(op)

    async def find_session(self, session_id: str, owner: PartyId | None = None) -> model.Session | None:
        t = docs.SESSION.table

        def op(conn: sa.Connection) -> model.Session | None:
            conds = [t.c.id == session_id.upper()]
            if owner is not None:
                conds += [t.c.country_code == owner.country_code, t.c.party_id == owner.party_id]
            rows = conn.execute(sa.select(t.c.doc).where(*conds)).all()
            return docs.SESSION.decode(rows[0].doc) if len(rows) == 1 else None

        return await self.db.read(op)

    # --- locations ---------------------------------------------------------------------------

    async def put_location(
        self, caller: Platform | None, loc: model.Location, *, correlation_id: str | None = None, deliver: bool = True,
        new: bool = False,
    ) -> bool:
        """`new`: a create, refused (Exists) when the Location is there already."""
        self.check_owner(caller, loc.owner_party, "location")
        source = caller.id if caller else None

        def op(tx: Tx) -> bool:
            if new and locations.get(tx.conn, docs.LOCATION.key(loc), with_evses=False) is not None:
                raise Exists(f"location {loc.id} exists already")
            return self._put_location(tx, loc, source, correlation_id, deliver)

        try:
            return await self.db.write(op)
        except sa.exc.IntegrityError:  # another process created it at the same moment
            if new:
                raise Exists(f"location {loc.id} exists already") from None
            raise

    def _put_location(self, tx: Tx, loc: model.Location, source: int | None, correlation_id: str | None, deliver: bool,
                      removed: bool = False) -> bool:
        created, audience = self._save(tx, docs.LOCATION, loc, source)
        self._announce(tx, "site.deleted" if removed else "site.created" if created else "site.updated", docs.LOCATION, loc, audience)
        if deliver:
            event = outbox.Draft(self._stream(docs.LOCATION, loc), "location", "put", _path(loc), docs.encode(loc))
            self._fan_out(tx, "location", loc, source, event, correlation_id, audience)
        return created

    async def remove_location(self, caller: Platform | None, owner: PartyId, location_id: str, when: Callable[[datetime], datetime]) -> None:
        """The OCPI way to delete a Location: every EVSE becomes REMOVED (a Location with none left has expired),
        in one transaction with the Location read FOR UPDATE. One without EVSEs cannot be removed (Conflict).
        `when(last_updated)`: the change's time, later than the stored one."""
        self.check_owner(caller, owner, "location")
        source = caller.id if caller else None

        def op(tx: Tx) -> None:
            stored = locations.get(tx.conn, (owner.country_code, owner.party_id, location_id.upper()), for_update=True)
            if stored is None:
                raise UnknownLocation(f"unknown location {location_id}")
            loc = stored.obj
            if not loc.evses:
                raise Conflict("a Location without EVSEs cannot be removed: OCPI never deletes a Location, it expires when "
                               "its last EVSE is REMOVED")
            at = when(loc.last_updated)
            removed = [e if e.status == "REMOVED" else msgspec.structs.replace(e, status="REMOVED", last_updated=at) for e in loc.evses]
            self._put_location(tx, msgspec.structs.replace(loc, evses=removed, last_updated=at), source, None, True, removed=True)

        await self.db.write(op)

    def put_locations(
        self, tx: Tx, caller: Platform | None, locs: Sequence[model.Location], *, correlation_id: str | None = None
    ) -> list[bool]:
        """Many Locations, each stored and fanned out as put_location does it, in the caller's transaction: what it
        writes beside them (the chargers an import registers at them) commits with them. Returns which are new."""
        for loc in locs:
            self.check_owner(caller, loc.owner_party, "location")
        source = caller.id if caller else None
        stored = docs.present(tx.conn, docs.LOCATION, [docs.LOCATION.key(loc) for loc in locs])  # one query, not one each
        created = [docs.LOCATION.key(loc) not in stored for loc in locs]
        # the new ones first: their deferred inserts go before the EVSE rows' (an existing one's EVSE rows are
        # deferred too, and the first statement deferred is the first flushed)
        for new, loc in sorted(zip(created, locs), key=lambda pair: not pair[0]):
            _, audience = self._save(tx, docs.LOCATION, loc, source, exists=not new)
            self._announce(tx, "site.created" if new else "site.updated", docs.LOCATION, loc, audience)
            event = outbox.Draft(self._stream(docs.LOCATION, loc), "location", "put", _path(loc), docs.encode(loc))
            self._fan_out(tx, "location", loc, source, event, correlation_id, audience)
        return created

    async def put_evse(
        self, caller: Platform | None, owner: PartyId, location_id: str, evse: model.Evse, *, correlation_id: str | None = None,
        deliver: bool = True, new: bool = False,
    ) -> bool:
        """`new`: a create, refused (Exists) when the owner has an EVSE with its uid at any of its Locations (uids are
        unique within a CPO)."""
        return await self._location_change(
            caller, owner, location_id, evse.uid, None, ("evse", "put", evse, None), correlation_id, deliver, new
        )

    async def put_connector(
        self, caller: Platform | None, owner: PartyId, location_id: str, evse_uid: str, connector: model.Connector, *,
        correlation_id: str | None = None, deliver: bool = True,
    ) -> bool:
        return await self._location_change(
            caller, owner, location_id, evse_uid, connector.id, ("connector", "put", connector, None), correlation_id, deliver
        )

    async def patch_location(
        self, caller: Platform | None, owner: PartyId, location_id: str, changes: dict[str, Any],
        evse_uid: str | None = None, connector_id: str | None = None, *, correlation_id: str | None = None,
        deliver: bool = True,
    ) -> None:
        _check_patch(changes)
        level = "connector" if connector_id else "evse" if evse_uid else "location"
        await self._location_change(
            caller, owner, location_id, evse_uid, connector_id, (level, "patch", None, changes), correlation_id, deliver
        )

    async def _location_change(
        self, caller: Platform | None, owner: PartyId, location_id: str, evse_uid: str | None, connector_id: str | None,
        change: tuple[str, str, Any, dict[str, Any] | None], correlation_id: str | None, deliver: bool, create: bool = False,
    ) -> bool:
        """PUT or PATCH below (or at) a Location: the parents' last_updated follow their children's."""
        self.check_owner(caller, owner, "location")
        level, op_name, new, changes = change
        source = caller.id if caller else None
        key = (owner.country_code, owner.party_id, location_id.upper())

        def op(tx: Tx) -> bool:
            stored = locations.get(tx.conn, key, for_update=True, with_evses=level == "location")
            if stored is None:
                raise UnknownLocation(f"unknown location {location_id}: PUT the Location first")
            if create and locations.uid_taken(tx.conn, owner, evse_uid):  # type: ignore[arg-type]
                raise Exists(f"EVSE {evse_uid} exists already")
            if level == "location":
                created, target = False, _patch_location(stored.obj, changes)  # type: ignore[arg-type]
                loc = target
            else:  # one EVSE (or its connector) changes: its row and the Location's own fields are written
                created, target, evse, before, position = _evse_change(tx.conn, key, level, op_name, new, changes, evse_uid, connector_id)
                locations.save_evse(tx, key, evse, position, self.rendering)
                loc = _replace(stored.obj, {"last_updated": max(stored.obj.last_updated, target.last_updated)})
            _, audience = self._save(tx, docs.LOCATION, loc, source, exists=True, whole=level == "location")
            if level == "location":
                self._announce(tx, "site.updated", docs.LOCATION, loc, audience)
            else:
                self._announce_evse(tx, loc, evse, before, created and level == "evse", audience)
            if deliver:
                path = _path(loc) + (f"/{evse_uid}" if evse_uid else "") + (f"/{connector_id}" if connector_id else "")
                fields = tuple(changes) if changes is not None else None
                event = outbox.Draft(self._stream(docs.LOCATION, loc), level, op_name, path, docs.encode(target), fields)
                self._fan_out(tx, "location", loc, source, event, correlation_id, audience)
            return created

        return await self.db.write(op)

    # --- tariffs -----------------------------------------------------------------------------

    async def put_tariff(
        self, caller: Platform | None, tariff: model.Tariff, *, correlation_id: str | None = None, deliver: bool = True
    ) -> bool:
        self.check_owner(caller, tariff.owner_party, "tariff")
        source = caller.id if caller else None

        def op(tx: Tx) -> bool:
            created, _ = self._save(tx, docs.TARIFF, tariff, source)
            self._announce(tx, "tariff.created" if created else "tariff.updated", docs.TARIFF, tariff)
            if deliver:
                event = outbox.Draft(self._stream(docs.TARIFF, tariff), "tariff", "put", _path(tariff), docs.encode(tariff))
                self._fan_out(tx, "tariff", tariff, source, event, correlation_id)
            return created

        return await self.db.write(op)

    async def delete_tariff(
        self, caller: Platform | None, owner: PartyId, tariff_id: str, *, correlation_id: str | None = None, deliver: bool = True
    ) -> None:
        self.check_owner(caller, owner, "tariff")
        source = caller.id if caller else None
        key = (owner.country_code, owner.party_id, tariff_id.upper())

        def op(tx: Tx) -> None:
            stored = docs.get(tx.conn, docs.TARIFF, key, for_update=True)
            if stored is None:
                raise NotFound(f"unknown tariff {tariff_id}")
            docs.delete(tx.conn, docs.TARIFF, key)
            tx.notify("tariff", change_payload(key, None, None))
            self._announce(tx, "tariff.deleted", docs.TARIFF, stored.obj)
            if deliver:
                t = stored.obj
                event = outbox.Draft(self._stream(docs.TARIFF, t), "tariff", "delete", _path(t), b"{}")
                self._fan_out(tx, "tariff", t, source, event, correlation_id)

        await self.db.write(op)

    # --- tokens ------------------------------------------------------------------------------

    async def put_token(
        self, caller: Platform | None, token: model.Token, *, correlation_id: str | None = None, deliver: bool = True
    ) -> bool:
        self.check_owner(caller, token.owner_party, "token")
        source = caller.id if caller else None

        def op(tx: Tx) -> bool:
            created, _ = self._save(tx, docs.TOKEN, token, source)
            self._refresh_audiences(tx)
            self._announce(tx, "charge_auth_token.created" if created else "charge_auth_token.updated", docs.TOKEN, token)
            if deliver:
                event = outbox.Draft(self._stream(docs.TOKEN, token), "token", "put", _path(token), docs.encode(token))
                self._fan_out(tx, "token", token, source, event, correlation_id)
            return created

        return await self.db.write(op)

    async def patch_token(
        self, caller: Platform | None, owner: PartyId, uid: str, type_: str, changes: dict[str, Any], *,
        correlation_id: str | None = None, deliver: bool = True, deleted: bool = False,
    ) -> None:
        """`deleted`: its owner deleted it (OCPI knows no delete of a Token: it only becomes invalid)."""
        _check_patch(changes)
        self.check_owner(caller, owner, "token")
        source = caller.id if caller else None
        key = (owner.country_code, owner.party_id, uid.upper(), type_)

        def op(tx: Tx) -> None:
            stored = docs.get(tx.conn, docs.TOKEN, key, for_update=True)
            if stored is None:
                raise NotFound(f"unknown token {uid}")
            token = _replace(stored.obj, changes)
            self._save(tx, docs.TOKEN, token, source, exists=True)
            self._refresh_audiences(tx)
            self._announce(tx, "charge_auth_token.deleted" if deleted else "charge_auth_token.updated", docs.TOKEN, token)
            if deliver:
                event = outbox.Draft(self._stream(docs.TOKEN, token), "token", "patch", _path(token), docs.encode(token), tuple(changes))
                self._fan_out(tx, "token", token, source, event, correlation_id)

        await self.db.write(op)

    # --- sessions and CDRs -------------------------------------------------------------------

    async def put_session(
        self, caller: Platform | None, session: model.Session, *, correlation_id: str | None = None, deliver: bool = True,
        exists: bool | None = None,
    ) -> bool:
        """`exists`: the caller knows whether the Session is new (spares a read)."""
        self.check_owner(caller, session.owner_party, "session")
        source = caller.id if caller else None

        def op(tx: Tx) -> bool:
            created, _ = self._save(tx, docs.SESSION, session, source, exists)
            self._announce(tx, _charge_event(session, created), docs.SESSION, session)
            if deliver:
                event = outbox.Draft(self._stream(docs.SESSION, session), "session", "put", _path(session), docs.encode(session))
                self._fan_out(tx, "session", session, source, event, correlation_id)
            return created

        return await self.db.write(op)

    async def patch_session(
        self, caller: Platform | None, owner: PartyId, session_id: str, changes: dict[str, Any], *,
        correlation_id: str | None = None, deliver: bool = True,
    ) -> model.Session:
        """charging_periods in a PATCH are appended (a PUT replaces them)."""
        _check_patch(changes)
        self.check_owner(caller, owner, "session")
        source = caller.id if caller else None
        key = (owner.country_code, owner.party_id, session_id.upper())

        def op(tx: Tx) -> model.Session:
            stored = docs.get(tx.conn, docs.SESSION, key, for_update=True)
            if stored is None:
                raise NotFound(f"unknown session {session_id}")
            applied = dict(changes)
            if "cdr_token" in applied and applied["cdr_token"].owner_party != stored.obj.cdr_token.owner_party:
                raise Invalid("a Session cannot move to another eMSP's token", "cdr_token")
            if applied.get("charging_periods"):
                applied["charging_periods"] = stored.obj.charging_periods + applied["charging_periods"]
            else:
                applied.pop("charging_periods", None)
            session = _replace(stored.obj, applied)
            self._save(tx, docs.SESSION, session, source, exists=True)
            self._announce(tx, _charge_event(session, False, "status" in changes), docs.SESSION, session)
            if deliver:
                event = outbox.Draft(
                    self._stream(docs.SESSION, session), "session", "patch", _path(session),
                    docs.encode(_replace(session, {"charging_periods": changes.get("charging_periods") or []})),
                    tuple(changes),
                )
                self._fan_out(tx, "session", session, source, event, correlation_id)
            return session

        return await self.db.write(op)

    async def post_cdr(
        self, caller: Platform | None, cdr: model.Cdr, *, correlation_id: str | None = None, deliver: bool = True
    ) -> None:
        """CDRs are final: a second CDR with the same id is refused (corrections are credit CDRs)."""
        self.check_owner(caller, cdr.owner_party, "cdr")
        source = caller.id if caller else None

        def op(tx: Tx) -> None:
            self._save(tx, docs.CDR, cdr, source, exists=False)  # the primary key refuses a second one
            self._announce(tx, "cdr.created", docs.CDR, cdr)
            if deliver:
                event = outbox.Draft(self._stream(docs.CDR, cdr), "cdr", "post", _path(cdr), docs.encode(cdr))
                self._fan_out(tx, "cdr", cdr, source, event, correlation_id)

        try:
            await self.db.write(op)
        except sa.exc.IntegrityError:
            raise Invalid(f"CDR {cdr.id} exists already; send a credit CDR to correct it", "id") from None


def _evse_stream(loc: model.Location, evse: model.Evse) -> str:
    return "evse:" + "/".join((*docs.LOCATION.key(loc), evse.uid.upper()))


def _charge_event(session: model.Session, created: bool, status_changed: bool = True) -> str:
    if status_changed and session.status == "COMPLETED":
        return "charge_transaction.completed"
    if status_changed and session.status == "INVALID":
        return "charge_transaction.failed"
    return "charge_transaction.started" if created else "charge_transaction.updated"


def _key_of(text: str, typed: bool) -> list[str]:
    """A stream's key back from its text: an id may hold '/', party codes and a token's type never do."""
    head, _, kind = text.rpartition("/") if typed else (text, "", "")
    return [*head.split("/", 2), *([kind] if typed else [])]


def _get(conn: sa.Connection, kind: docs.Kind, key: Sequence[str]) -> docs.Stored | None:
    return locations.get(conn, key) if kind is docs.LOCATION else docs.get(conn, kind, key)


def _evse_change(
    conn: sa.Connection, key: Sequence[str], level: str, op_name: str, new: Any, changes: dict[str, Any] | None,
    evse_uid: str | None, connector_id: str | None,
) -> tuple[bool, Any, model.Evse, model.Evse | None, int | None]:
    """A PUT or PATCH of an EVSE or of one of its connectors: (is it new, what changed as sent, the EVSE as it
    is now, as it was, its place in the Location: None for a new one). A connector's last_updated moves its EVSE's."""
    found = locations.evse(conn, key, evse_uid, for_update=True)  # type: ignore[arg-type]
    evse, position = found if found is not None else (None, None)
    if level == "evse":
        if op_name == "put":
            return evse is None, new, new, evse, position
        if evse is None:
            raise NotFound(f"unknown EVSE {evse_uid}")
        target = _patch_evse(evse, changes)  # type: ignore[arg-type]
        return False, target, target, evse, position
    if evse is None:
        raise NotFound(f"unknown EVSE {evse_uid}")
    conn_ = next((c for c in evse.connectors if c.id.upper() == connector_id.upper()), None)  # type: ignore[union-attr]
    if op_name == "put":
        created, target = conn_ is None, new
    elif conn_ is None:
        raise NotFound(f"unknown connector {connector_id}")
    else:
        created, target = False, _replace(conn_, changes)  # type: ignore[arg-type]
    changed = _replace(evse, {"connectors": merge_by(evse.connectors, [target], "id"), "last_updated": max(evse.last_updated, target.last_updated)})
    return created, target, changed, evse, position


def _path(obj: Any) -> str:
    ident = getattr(obj, "id", None) or obj.uid
    return f"{obj.country_code.upper()}/{obj.party_id.upper()}/{ident}"


def _patch_location(loc: model.Location, changes: dict[str, Any]) -> model.Location:
    applied = dict(changes)
    if "evses" in applied:  # no defined merge semantics for arrays (ocpi#285): merge by uid, drop nothing
        applied["evses"] = merge_by(loc.evses, applied["evses"], "uid")
        applied["last_updated"] = max([applied["last_updated"], *(e.last_updated for e in applied["evses"])])
    return _replace(loc, applied)


def _patch_evse(evse: model.Evse, changes: dict[str, Any]) -> model.Evse:
    applied = dict(changes)
    if "connectors" in applied:
        applied["connectors"] = merge_by(evse.connectors, applied["connectors"], "id")
    return _replace(evse, applied)

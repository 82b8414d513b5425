"""GET All of public CPO data (Locations, Tariffs) from an in-memory ordered index.

OCPI pages by offset, and a database walks `offset` index entries for every page and counts all
matches for X-Total-Count. The catalog keeps, for every object of its kind, the order key
(last_updated, key) and what the visibility rules look at (owner, published, audience); per distinct
`Lens` it keeps the sorted list of what that reader sees. A page is then two bisections and a slice. Its
documents come from a bounded cache of rendered documents, each tagged with the version (the hub's
store time) it was rendered from, and from the database by primary key for whatever the cache does not
hold in the current version.

The catalog follows the store: every save and delete notifies (in this process at commit, in the others
through PostgreSQL LISTEN/NOTIFY), and the notification carries what the catalog needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from bisect import bisect_left, insort
from collections import Counter, OrderedDict
from typing import Any, NamedTuple

import msgspec
import sqlalchemy as sa

from hub.model import PartyId
from hub.services.visibility import NOBODY, Lens, audience_set
from hub.store import documents as docs
from hub.store.db import Database

Key = tuple[str, ...]


class Entry(NamedTuple):
    updated_us: int
    key: Key
    owner: PartyId
    published: bool
    audience: frozenset[PartyId]
    version: int  # stored_us of the current version


def change_payload(
    key: Key, updated_us: int | None, stored_us: int | None, published: bool = True, audience: str | None = None
) -> str:
    """What a save (updated_us set) or a delete (None) of a catalogued object announces."""
    return msgspec.json.encode([list(key), updated_us, stored_us, published, audience]).decode()


Fetch = Callable[[sa.Connection, list[tuple]], dict[tuple, tuple[int, Any]]]  # keys -> (version, rendered document or object)


class Form(NamedTuple):
    """Another wire format a surface serves the catalog's objects in (OCPI 2.1.1): rendered from the canonical
    object, None when the format cannot carry it (it is then left out of the page)."""

    name: str
    render: Callable[[Any], bytes | None]


class _Lru:
    """Documents by key, each tagged with the version it was rendered from, within a byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.items: OrderedDict[Key, tuple[int, bytes]] = OrderedDict()
        self.size = 0

    def get(self, key: Key, version: int | None) -> bytes | None:
        hit = self.items.get(key)
        if hit is None or version is None or hit[0] != version:
            return None
        self.items.move_to_end(key)
        return hit[1]

    def put(self, key: Key, version: int, doc: bytes) -> None:
        if self.budget <= 0:
            return
        old = self.items.pop(key, None)
        if old is not None:
            self.size -= len(old[1])
        self.items[key] = (version, doc)
        self.size += len(doc)
        while self.size > self.budget and self.items:
            _, (_, evicted) = self.items.popitem(last=False)
            self.size -= len(evicted)


class Catalog:
    def __init__(self, db: Database, kind: docs.Kind, cache_bytes: int, fetch: Fetch, fetch_objects: Fetch) -> None:
        self.db = db
        self.kind = kind
        self.fetch = fetch  # the primary rendering, as the store keeps it
        self.fetch_objects = fetch_objects  # the canonical objects, for the other forms
        self.cache_bytes = cache_bytes
        self.cached = _Lru(cache_bytes)
        self.forms: dict[str, _Lru] = {}  # form name -> its own cache of the same budget
        self.entries: dict[Key, Entry] = {}
        self.owners: Counter[PartyId] = Counter()
        self.audiences: Counter[PartyId] = Counter()
        self.views: dict[Lens, list[tuple[int, Key]]] = {}
        self._loaded = False
        self._loading: asyncio.Lock | None = None
        self._early: list[str] | None = None  # changes that arrive while loading
        db.subscribe(self._on_change)

    # --- keeping up with the store ---------------------------------------------------------------

    async def load(self) -> None:
        if self._loaded:
            return
        self._loading = self._loading or asyncio.Lock()
        async with self._loading:
            if self._loaded:
                return
            self._early = []
            t = self.kind.table
            cols = [t.c.updated_us, t.c.stored_us, *self.kind.key_columns]  # type: ignore[attr-defined]
            if self.kind is docs.LOCATION:
                cols += [t.c.published, t.c.audience]
            rows = await self.db.read(lambda conn: conn.execute(sa.select(*cols)).all())
            width = len(self.kind.key_columns)  # type: ignore[attr-defined]
            for row in rows:
                key = tuple(row[2 : 2 + width])
                published, aud = (row[2 + width], row[3 + width]) if self.kind is docs.LOCATION else (True, None)
                self._put(Entry(row[0], key, PartyId(key[0], key[1]), bool(published), audience_set(aud), row[1]))
            early, self._early = self._early, None
            self._loaded = True
            for payload in early:
                self.apply(payload)

    def _on_change(self, topic: str, payload: str) -> None:
        if topic != self.kind.name or not payload.startswith("["):
            return
        if self._early is not None:
            self._early.append(payload)
        elif self._loaded:
            self.apply(payload)

    def apply(self, payload: str) -> None:
        key, updated_us, stored_us, published, aud = msgspec.json.decode(payload)
        key = tuple(key)
        old = self.entries.get(key)
        if old is not None:
            self._drop(old)
        if updated_us is not None:
            self._put(Entry(updated_us, key, PartyId(key[0], key[1]), published, audience_set(aud), stored_us))

    def _put(self, e: Entry) -> None:
        if self.owners[e.owner] == 0 or any(self.audiences[p] == 0 for p in e.audience):
            self.views.clear()  # new owners or audiences change how readers are told apart
        self.entries[e.key] = e
        self.owners[e.owner] += 1
        self.audiences.update(e.audience)
        for lens, view in self.views.items():
            if lens.sees(e.owner, e.published, e.audience):
                insort(view, (e.updated_us, e.key))

    def _drop(self, e: Entry) -> None:
        del self.entries[e.key]
        self.owners[e.owner] -= 1
        self.audiences.subtract(e.audience)
        for lens, view in self.views.items():
            if lens.sees(e.owner, e.published, e.audience):
                i = bisect_left(view, (e.updated_us, e.key))
                if i < len(view) and view[i] == (e.updated_us, e.key):
                    del view[i]

    # --- reading ---------------------------------------------------------------------------------

    def _view(self, lens: Lens) -> list[tuple[int, Key]]:
        # Readers that differ only in parties owning nothing here, or in no audience, see the same.
        lens = Lens(
            frozenset(p for p in lens.own if self.owners[p]),
            lens.agreed,
            frozenset(p for p in lens.audience if self.audiences[p]) if self.audiences else NOBODY,
        )
        view = self.views.get(lens)
        if view is None:
            view = sorted((e.updated_us, e.key) for e in self.entries.values() if lens.sees(e.owner, e.published, e.audience))
            self.views[lens] = view
        return view

    async def page(self, lens: Lens, window: docs.Window, form: Form | None = None) -> tuple[list[bytes], int]:
        """The rendered documents of one page (in `form`, else as the store keeps them), oldest first, and how many
        objects match the dates."""
        await self.load()
        view = self._view(lens)
        lo = 0 if window.date_from is None else bisect_left(view, (docs.to_us(window.date_from),))
        hi = len(view) if window.date_to is None else bisect_left(view, (docs.to_us(window.date_to),))
        start = lo + window.offset
        keys = [k for _, k in view[start : min(hi, start + window.limit)]]
        return await self.documents(keys, form), max(0, hi - lo)

    async def documents(self, keys: list[Key], form: Form | None = None) -> list[bytes]:
        if form is None:
            cache, fetch, render = self.cached, self.fetch, None
        else:
            cache = self.forms.setdefault(form.name, _Lru(self.cache_bytes))
            fetch, render = self.fetch_objects, form.render
        found: dict[Key, bytes] = {}
        for key in keys:
            entry = self.entries.get(key)
            hit = cache.get(key, entry.version if entry is not None else None)
            if hit is not None:
                found[key] = hit
        missing = [k for k in keys if k not in found]
        if missing:
            fetched = await self.db.read(lambda conn: fetch(conn, missing))
            for key, (version, doc) in fetched.items():
                if render is not None:
                    doc = render(doc) or b""  # b"": the form cannot carry it (remembered as such)
                found[key] = doc
                cache.put(key, version, doc)
        return [found[k] for k in keys if found.get(k)]

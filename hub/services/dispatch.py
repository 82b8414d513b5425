"""The outbox dispatcher: each destination is a lane of its own.

A lane reads its destination's oldest open events, claims the first event of each stream (several streams at
once, one event of a stream at a time, so that an object's changes arrive in order), and delivers them with
up to `outbox_concurrency` requests in flight. Lanes share nothing but the process: a slow, dead or far-behind
destination fills only its own lane. Outcomes are written in batches; a claim belongs to this process and
lives as long as it beats in the `processes` table, so a process that dies gives its claims back in seconds.

Outcomes:
- success: done;
- refused by the receiver (a client error: it will never succeed as sent): parked at once, replayable;
- transport trouble or a server error: the event is tried again after the lane's backoff (exponential with
  jitter); while the destination fails the lane sends one event at a time. A destination goes OFFLINE on its
  own health, when it has failed without a success for `offline_after` seconds, not on one event's count;
- busy (the hub's own budget for the destination was in use): kept at the head of the lane's queue and tried again
  shortly, nothing written and no attempt counted (many lanes to one host must not turn into a storm of writes).

An OFFLINE destination does not queue: its events become stale objects (hub/store/outbox.py) that are sent
as they are now when it is back. A still-alive check asks OFFLINE platforms (OCPI: GET versions).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

import msgspec
import tenacity

from hub.services.directory import Directory, Platform
from hub.services.parties import Parties
from hub.settings import Settings
from hub.store import outbox
from hub.store.db import Database
from hub.store.documents import now_us
from hub.store.outbox import Event, Outcome

log = logging.getLogger(__name__)

WINDOW = 512  # open events a lane reads at once
PREFETCH = 256  # events a lane claims beyond those it can send right away (one read and one claim for many sends)
BEAT_SECONDS = 1.0
PROCESS_TIMEOUT_US = 5_000_000  # a process silent this long is gone
BUSY_PAUSE = 0.05  # seconds a lane waits when the hub's own budget for its destination was in use
COMPACT_AT = 8  # changes of one object waiting for a destination before it gets the object as it is instead
PRUNE_SECONDS = 600.0
SWEEP_SECONDS = 5.0  # how often every lane with work is woken, whatever was announced (a process that died)

Refresh = Callable[[Platform, list[str]], Awaitable[None]]  # queue the current state of stale objects


class Delivery(msgspec.Struct, frozen=True):
    outcome: Literal["ok", "retry", "refused", "busy"]  # busy: the hub's own budget for the destination was in use
    detail: str = ""
    retry_in: float | None = None  # seconds to the next attempt when the sender knows (Retry-After, its own schedule)


class Sender(Protocol):
    """What a protocol module offers the dispatcher. It may also say, as `offline_after`, how long its destinations
    may fail without a success before they are OFFLINE (the `offline_after` setting otherwise), and as `concurrency`
    (or `concurrency_for(platform)`) how many requests may be in flight to one (`outbox_concurrency` otherwise)."""

    async def deliver(self, platform: Platform, event: Event) -> Delivery: ...

    async def alive(self, platform: Platform) -> bool: ...


class _Attempt:
    """The one thing tenacity's wait strategies read from a retry state."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number


class Health:
    """A platform's health as this process sees it: OFFLINE once it has failed for `offline_after` seconds
    without a success in between (a flaky one is slowed by the backoff, not dropped)."""

    TOUCH_SECONDS = 5.0  # the last successful exchange is written at most this often

    def __init__(self, parties: Parties, offline_after: Callable[[int], float]) -> None:
        self.parties = parties
        self.offline_after = offline_after  # of a platform
        self.failing_since: dict[int, float] = {}
        self.touched: dict[int, float] = {}

    async def ok(self, platform_id: int) -> None:
        self.failing_since.pop(platform_id, None)
        now = time.monotonic()
        if now - self.touched.get(platform_id, 0.0) >= self.TOUCH_SECONDS:
            self.touched[platform_id] = now
            await self.parties.touch(platform_id)

    async def failed(self, platform_id: int, detail: str) -> None:
        since = self.failing_since.setdefault(platform_id, time.monotonic())
        limit = self.offline_after(platform_id)
        if time.monotonic() - since >= limit:
            self.failing_since.pop(platform_id, None)
            await self.parties.went_offline(platform_id, f"failing for {limit:g} s: {detail}")


class Lane:
    def __init__(self, dispatcher: Dispatcher, destination: int) -> None:
        self.d = dispatcher
        self.destination = destination
        self.queue: deque[Event] = deque()  # claimed, not yet sent
        self.streams: set[str] = set()  # streams with an event claimed here and not yet done
        self.finished: set[int] = set()  # delivered, the outcome not yet written
        self.held: dict[int, str] = {}  # not delivered, the outcome not yet written: their streams wait for it
        self.running = 0
        self.failures = 0  # failed attempts since the last success
        self.backoff_until = 0.0
        self.check_stale = True
        self.wanted = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"lane-{destination}")

    @property
    def limit(self) -> int:
        return 1 if self.failures else self.d.concurrency_of(self.destination)

    @property
    def idle(self) -> bool:
        return not (self.running or self.queue or self.wanted.is_set())

    def wake(self) -> None:
        self.wanted.set()

    async def _run(self) -> None:
        while True:
            await self.wanted.wait()
            self.wanted.clear()
            try:
                await self._fill()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lane %s failed; trying again in a second", self.destination)
                asyncio.get_running_loop().call_later(1.0, self.wake)

    async def _fill(self) -> None:
        platform = self.d.directory.platform(self.destination)
        if platform is None or not platform.connected:  # OFFLINE: what it did not get waits, or is stale
            while self.queue:
                event = self.queue.popleft()
                self.held[event.seq] = event.stream
                self.d.record(self, Outcome(event.seq, "pending", "", now_us(), counted=False))
            return
        if self.check_stale:
            streams = await self.d.db.write(lambda tx: outbox.take_stale(tx, self.destination))
            self.check_stale = bool(streams)
            if streams:
                await self.d.refresh(platform, streams)
        wait = self.backoff_until - time.monotonic()
        if wait > 0:
            asyncio.get_running_loop().call_later(wait, self.wake)
            return
        free = self.limit - self.running - len(self.queue)
        if free > 0:
            await self._claim(free + (PREFETCH if not self.failures else 0))
        self._start(platform)

    async def _claim(self, wanted: int) -> None:
        heads = await self.d.db.read(lambda conn: outbox.window(conn, self.destination, WINDOW))
        if await self._compact(heads):
            return
        now, alive, seen, picked = now_us(), self.d.alive, set(), []
        next_due = None
        for head in heads:
            if head.seq in self.finished or head.stream in seen:
                continue
            seen.add(head.stream)
            if head.stream in self.streams:
                continue
            if head.status == "pending" and head.next_attempt_us > now:
                next_due = min(next_due or head.next_attempt_us, head.next_attempt_us)
            elif head.status == "pending" or head.owner not in alive:
                picked.append(head.seq)
                if len(picked) >= wanted:
                    break
        if next_due is not None:
            asyncio.get_running_loop().call_later((next_due - now) / 1e6, self.wake)
        if not picked:
            return
        dead = {h.owner for h in heads if h.status == "inflight" and h.owner not in alive}
        for event in await self.d.db.write(lambda tx: outbox.claim(tx, picked, self.d.db.instance, dead)):
            self.streams.add(event.stream)
            self.queue.append(event)
        if len(picked) >= wanted:
            self.wake()  # there may be more behind this window

    async def _compact(self, heads: list[outbox.Head]) -> bool:
        """A destination that takes an object's changes slower than they come gets the object as it is instead
        of the changes it has not taken yet (OCPI allows skipping versions): its queue stays short and its copy
        ends up right. True when the lane should read again."""
        waiting = Counter(h.stream for h in heads if h.status == "pending" and h.stream not in self.streams)
        behind = [s for s, n in waiting.items() if n >= COMPACT_AT and outbox.refreshable(s)]
        if not behind:
            return False
        dropped = await self.d.db.write(lambda tx: outbox.compact(tx, self.destination, behind))
        log.info("platform %s is behind on %d objects: %d changes replaced by their current state", self.destination, len(behind), dropped)
        self.check_stale = True
        self.wake()
        return True

    def _start(self, platform: Platform) -> None:
        while self.queue and self.running < self.limit:
            self.running += 1
            self.d.spawn(self._deliver(platform, self.queue.popleft()))

    async def _deliver(self, platform: Platform, event: Event) -> None:
        sender = self.d.senders.get(platform.row.protocol)
        try:
            if sender is None:
                raise RuntimeError(f"no sender for protocol {platform.row.protocol}")
            result = await sender.deliver(platform, event)
        except Exception as exc:  # a bug in a sender must not lose the event
            log.exception("delivery of outbox event %s failed", event.seq)
            result = Delivery("retry", f"{type(exc).__name__}: {exc}")
        self.running -= 1
        await self._settle(event, result)
        self.wake()

    async def _settle(self, event: Event, result: Delivery) -> None:
        if result.outcome == "busy":  # kept, first in line, and nothing written: no attempt was made
            self.queue.appendleft(event)
            self.backoff_until = max(self.backoff_until, time.monotonic() + BUSY_PAUSE)
            return
        if result.outcome == "retry":
            self.failures += 1
            delay = result.retry_in if result.retry_in is not None else self.d.backoff(_Attempt(self.failures))  # type: ignore[arg-type]
            self.backoff_until = time.monotonic() + delay
            self.held[event.seq] = event.stream
            self.d.record(self, Outcome(event.seq, "pending", result.detail, now_us() + int(delay * 1e6)))
            await self.d.health.failed(self.destination, result.detail)
            return
        self.failures, self.backoff_until = 0, 0.0
        if result.outcome == "refused":
            log.warning("outbox event %s refused by platform %s: %s", event.seq, self.destination, result.detail)
            self.held[event.seq] = event.stream
            self.d.record(self, Outcome(event.seq, "parked", result.detail))
        else:  # done: the stream may go on before the outcome is written
            self.finished.add(event.seq)
            self.streams.discard(event.stream)
            self.d.record(self, Outcome(event.seq, "done"))
        await self.d.health.ok(self.destination)

    def written(self, outcome: Outcome) -> None:
        self.finished.discard(outcome.seq)
        stream = self.held.pop(outcome.seq, None)
        if stream is not None:  # pending again or parked in the store now: the stream may go on (in order)
            self.streams.discard(stream)
        self.wake()


class Dispatcher:
    def __init__(self, db: Database, directory: Directory, parties: Parties, senders: dict[str, object], settings: Settings) -> None:
        self.db = db
        self.directory = directory
        self.parties = parties
        self.senders = senders
        self.settings = settings
        self.health = Health(parties, self._offline_after)
        self.backoff = tenacity.wait_random_exponential(multiplier=0.5, max=settings.outbox_backoff_max)
        self.lanes: dict[int, Lane] = {}
        self.alive: set[str] = {db.instance}
        self.refresh: Refresh = _no_refresh
        self._outcomes: list[tuple[Lane, Outcome]] = []
        self._writing: asyncio.Task | None = None
        self._tasks: list[asyncio.Task] = []
        self._inflight: set[asyncio.Task] = set()
        self._started_us = now_us()
        # A dead process's claims are taken over once it is gone and the requests it had sent have timed out: until
        # then one may still land at the receiver, after (and over) a newer change sent again by another process
        self.gone_after_us = PROCESS_TIMEOUT_US + int(max(settings.forward_timeout, settings.webhook_timeout) * 1e6)
        db.subscribe(self._on_change)

    def _sender_of(self, platform_id: int) -> Sender | None:
        platform = self.directory.platform(platform_id)
        return self.senders.get(platform.row.protocol) if platform else None

    def _offline_after(self, platform_id: int) -> float:
        return getattr(self._sender_of(platform_id), "offline_after", None) or self.settings.offline_after

    def concurrency_of(self, platform_id: int) -> int:
        """Requests in flight to a destination: its sender's own limit (one keeps every change in order; a sender may
        set it per destination with `concurrency_for(platform)`), else the setting."""
        sender = self._sender_of(platform_id)
        limit = getattr(sender, "concurrency", None)
        if limit is None and (per := getattr(sender, "concurrency_for", None)) is not None:
            limit = per(self.directory.platform(platform_id))
        return limit or self.settings.outbox_concurrency

    def _on_change(self, topic: str, payload: str) -> None:
        if topic == "outbox" and self._tasks:
            for text in filter(None, payload.split(",")):
                lane = self.lane(int(text))
                lane.check_stale = True
                lane.wake()

    def lane(self, destination: int) -> Lane:
        lane = self.lanes.get(destination)
        if lane is None:
            lane = self.lanes[destination] = Lane(self, destination)
        return lane

    def spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(work)  # type: ignore[arg-type]
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def start(self) -> None:
        await self._beat()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._beats(), name="outbox-beat"), loop.create_task(self._alive(), name="alive-check")]
        await self._wake_busy()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=5)
        for lane in self.lanes.values():
            lane.task.cancel()
        await self._write_outcomes()
        instance, cutoff = self.db.instance, now_us() - self.gone_after_us

        def release(tx: object) -> None:
            outbox.release(tx, instance)  # type: ignore[arg-type]
            outbox.forget_process(tx, instance, cutoff)  # type: ignore[arg-type]

        await self.db.write(release)

    # --- outcomes, written in batches ---------------------------------------------------------------

    def record(self, lane: Lane, outcome: Outcome) -> None:
        self._outcomes.append((lane, outcome))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(self._write_outcomes())

    async def _write_outcomes(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                await self.db.write(lambda tx: outbox.finish(tx, [o for _, o in batch], self.db.instance))
            except Exception:
                log.exception("writing %d delivery outcomes failed; trying again", len(batch))
                self._outcomes = batch + self._outcomes
                await asyncio.sleep(1.0)
                continue
            for lane, outcome in batch:
                lane.written(outcome)

    # --- the process's pulse -----------------------------------------------------------------------

    async def _beat(self) -> None:
        instance, started, since = self.db.instance, self._started_us, now_us() - self.gone_after_us
        await self.db.write(lambda tx: outbox.beat(tx, instance, started))
        self.alive = await self.db.read(lambda conn: outbox.alive(conn, since)) | {instance}

    async def _beats(self) -> None:
        pruned = swept = time.monotonic()
        while True:
            await asyncio.sleep(BEAT_SECONDS)
            try:
                await self._beat()
                if time.monotonic() - swept > SWEEP_SECONDS:
                    swept = time.monotonic()
                    await self._wake_busy()
                if time.monotonic() - pruned > PRUNE_SECONDS:
                    pruned = time.monotonic()
                    before = now_us() - int(self.settings.outbox_retention * 1e6)
                    await self.db.write(lambda tx: outbox.prune(tx, before))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox heartbeat failed")

    async def _busy(self) -> set[int]:
        """Destinations with open events or stale objects (events are announced as they are written; this finds
        what another process left behind, and what a lane missed)."""
        ids = [p.id for p in self.directory.platforms()]
        return await self.db.read(lambda conn: outbox.with_open_events(conn, ids) | outbox.stale_destinations(conn))

    async def _wake_busy(self) -> None:
        for destination in await self._busy():
            self.lane(destination).wake()

    async def drain(self, timeout: float = 10.0) -> None:
        """Deliver until nothing is due for a connected destination (tests and the CLI)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            await self._wake_busy()
            await asyncio.sleep(0.02)
            connected = {p.id for p in self.directory.platforms() if p.connected}
            lanes = [lane for d, lane in self.lanes.items() if d in connected]
            if not (await self._busy() & connected) and all(lane.idle for lane in lanes) and not self._outcomes and not self._inflight:
                return

    # --- still alive -------------------------------------------------------------------------------

    async def _alive(self) -> None:
        while True:
            await asyncio.sleep(self.settings.alive_check_interval)
            try:
                await self.check_alive()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("still-alive check failed")

    async def check_alive(self) -> None:
        for platform in list(self.directory.platforms()):
            if platform.row.status != "OFFLINE":
                continue
            sender = self.senders.get(platform.row.protocol)
            if sender is not None and await sender.alive(platform):  # type: ignore[attr-defined]
                await self.parties.came_back(platform.id)


async def _no_refresh(platform: Platform, streams: list[str]) -> None:
    log.warning("stale objects of platform %s not refreshed: no refresher installed", platform.id)

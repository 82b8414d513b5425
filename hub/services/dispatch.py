"""The outbox dispatcher: claims due events, hands each to its destination's protocol, records the outcome.

- success: done; the platform's last successful exchange moves;
- refused by the receiver (a client error: it will never succeed as sent): parked at once, visible and
  replayable from the CLI;
- transport trouble (connection, timeout, server error): retried with exponential backoff and jitter;
  after `outbox_max_attempts` the event is parked and the platform goes OFFLINE (its other waiting events
  are dropped: OCPI parties must not queue; the re-sync on return sends the current state instead).

A still-alive check asks OFFLINE platforms (OCPI: GET versions) and brings back those that answer.
Several processes can dispatch from one PostgreSQL database: claims skip locked rows and take a lease.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, Protocol

import msgspec
import tenacity

from hub.services.directory import Directory, Platform
from hub.services.parties import Parties
from hub.settings import Settings
from hub.store import outbox
from hub.store.db import Database
from hub.store.documents import now_us
from hub.store.outbox import Event

log = logging.getLogger(__name__)

LEASE_US = 120_000_000  # a claimed event returns to the pool if its dispatcher vanished for 2 minutes


class Delivery(msgspec.Struct, frozen=True):
    outcome: Literal["ok", "retry", "refused", "busy"]  # busy: the hub's own budget for the destination was in use
    detail: str = ""


class Sender(Protocol):
    """What a protocol module offers the dispatcher."""

    async def deliver(self, platform: Platform, event: Event) -> Delivery: ...

    async def alive(self, platform: Platform) -> bool: ...


class _Attempt:
    """The one thing tenacity's wait strategies read from a retry state."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number


class Dispatcher:
    def __init__(
        self, db: Database, directory: Directory, parties: Parties, senders: dict[str, Sender], settings: Settings
    ) -> None:
        self.db = db
        self.directory = directory
        self.parties = parties
        self.senders = senders
        self.settings = settings
        self.backoff = tenacity.wait_random_exponential(multiplier=0.5, max=settings.outbox_backoff_max)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._inflight: set[asyncio.Task] = set()
        self._limit = asyncio.Semaphore(32)
        db.subscribe(self._on_change)

    def _on_change(self, topic: str, _payload: str) -> None:
        if topic == "outbox":
            self._wake.set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run(), name="outbox"), loop.create_task(self._alive(), name="alive-check")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=5)

    async def _run(self) -> None:
        while True:
            try:
                await self.dispatch_once()
                delay = await self._idle_time()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher cycle failed")
                delay = 1.0
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def _idle_time(self) -> float:
        due = await self.db.read(outbox.next_due_us)
        if due is None:
            return 5.0
        return min(5.0, max(0.0, (due - now_us()) / 1e6))

    async def dispatch_once(self) -> int:
        """Claim what is due and start delivering it; returns how many deliveries started."""
        heads = await self.db.read(outbox.heads)
        now = now_us()
        due = [e.seq for e in heads if e.next_attempt_us <= now]
        if not due:
            return 0
        claimed = set(await self.db.write(lambda tx: outbox.claim(tx, due, now_us() + LEASE_US)))
        for event in heads:
            if event.seq in claimed:
                task = asyncio.get_running_loop().create_task(self._deliver(event))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
        return len(claimed)

    async def drain(self, timeout: float = 10.0) -> None:
        """Deliver until nothing is due (tests and the CLI)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            started = await self.dispatch_once()
            if self._inflight:
                await asyncio.wait(self._inflight, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
            elif not started:
                if not await self.db.read(outbox.inflight_count):  # nor claimed by the loop, its task not started yet
                    return
                await asyncio.sleep(0.01)

    async def _deliver(self, event: Event) -> None:
        async with self._limit:
            platform = self.directory.platform(event.destination)
            if platform is None or platform.row.status in ("SUSPENDED", "PLANNED"):
                await self.db.write(lambda tx: outbox.record(tx, event.seq, ok=False, detail="destination gone", status="skipped"))
                return
            sender = self.senders.get(platform.row.protocol)
            try:
                if sender is None:
                    raise RuntimeError(f"no sender for protocol {platform.row.protocol}")
                result = await sender.deliver(platform, event)
            except Exception as exc:  # a bug in a sender must not lose the event
                log.exception("delivery of outbox event %s failed", event.seq)
                result = Delivery("retry", f"{type(exc).__name__}: {exc}")
            await self._record(platform, event, result)

    async def _record(self, platform: Platform, event: Event, result: Delivery) -> None:
        attempt = event.attempts + 1
        if result.outcome == "ok":
            await self.db.write(lambda tx: outbox.record(tx, event.seq, ok=True, detail=result.detail, status="done"))
            await self.parties.touch(platform.id)
            return
        if result.outcome == "busy":  # not an attempt: try again shortly
            retry_at = now_us() + 500_000
            await self.db.write(lambda tx: outbox.postpone(tx, event.seq, retry_at))
            return
        if result.outcome == "refused":
            log.warning("outbox event %s refused by %s: %s", event.seq, platform.row.name, result.detail)
            await self.db.write(lambda tx: outbox.record(tx, event.seq, ok=False, detail=result.detail, status="parked"))
            return
        if attempt >= self.settings.outbox_max_attempts:
            await self.db.write(lambda tx: outbox.record(tx, event.seq, ok=False, detail=result.detail, status="parked"))
            await self.parties.went_offline(platform.id, result.detail)
            return
        delay = self.backoff(_Attempt(attempt))  # type: ignore[arg-type]
        retry_at = now_us() + int(delay * 1e6)
        await self.db.write(
            lambda tx: outbox.record(tx, event.seq, ok=False, detail=result.detail, status="pending", retry_at_us=retry_at)
        )

    # --- still alive -------------------------------------------------------------------------

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
            if sender is not None and await sender.alive(platform):
                await self.parties.came_back(platform.id)

"""Rate limits and summary logging for what peers can make the hub do: token buckets kept per key in bounded
memory, and counters that become one log line per interval instead of a line per event."""

from __future__ import annotations

import asyncio
import logging
import time
from itertools import islice


class Budget:
    """A token bucket: `burst` at once, refilled at `rate` per second."""

    __slots__ = ("rate", "burst", "level", "at")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst, self.level, self.at = rate, burst, float(burst), time.monotonic()

    def _refill(self) -> float:
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self.at) * self.rate)
        self.at = now
        return self.level

    def take(self) -> bool:
        if self._refill() < 1:
            return False
        self.level -= 1
        return True

    @property
    def spent(self) -> bool:
        return self._refill() < 1

    @property
    def full(self) -> bool:
        return self._refill() >= self.burst

    def seconds_until(self, level: float) -> float:
        return max(0.0, level - self._refill()) / self.rate if self.rate > 0 else float("inf")


class Budgets:
    """A Budget per key for at most `cap` keys: beyond, the least recently used are forgotten (a forgotten
    key starts full again, which is what it would have been soon anyway), so no caller grows it without bound."""

    def __init__(self, rate: float, burst: float, cap: int = 10_000) -> None:
        self.rate, self.burst, self.cap = rate, burst, cap
        self._items: dict[str, Budget] = {}

    def __getitem__(self, key: str) -> Budget:
        budget = self._items.pop(key, None) or Budget(self.rate, self.burst)
        self._items[key] = budget  # the most recently used last
        if len(self._items) > self.cap:
            for old in list(islice(self._items, max(1, self.cap // 10))):
                del self._items[old]
        return budget

    def get(self, key: str) -> Budget | None:
        return self._items.get(key)

    def __len__(self) -> int:
        return len(self._items)


class Tally:
    """Events counted per group and key, logged as one line per interval rather than a line per event."""

    MAX_KEYS = 20  # per group and interval; beyond, counted as "(others)"

    def __init__(self, logger: logging.Logger, what: str, interval: float) -> None:
        self.logger, self.what, self.interval = logger, what, interval
        self.counts: dict[str, dict[str, int]] = {}
        self._flush: asyncio.TimerHandle | None = None

    def add(self, group: str, key: str, n: int = 1) -> bool:
        """Count `n`; True for the first of this key in the interval."""
        counts = self.counts.setdefault(group, {})
        key = key[:64]
        first = key not in counts
        if first and len(counts) >= self.MAX_KEYS:
            key, first = "(others)", False
        counts[key] = counts.get(key, 0) + n
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_later(self.interval, self.flush)
        return first

    def flush(self) -> None:
        self._flush = None
        if self.counts:
            groups = "; ".join(f"{group} " + ", ".join(f"{key!r}: {n}" for key, n in counts.items()) for group, counts in self.counts.items())
            self.logger.warning("%s in the last %g s: %s", self.what, self.interval, groups)
        self.counts = {}

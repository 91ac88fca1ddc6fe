"""Request metrics counted in plain Python, handed to prometheus_client once per turn of
the event loop.

Every request used to update prometheus_client's values one by one: the in-flight gauge
up and down, the request counter, the latency histogram's sum and bucket, each under a
lock of its own (a file-backed value under several workers). In a served cached
catalogue answer that was a sixth of the CPU. :class:`Tally` counts a request with one
lock and a few additions, and folds what it counted into the same series on the next
turn of the event loop: once for all the requests that ended in one turn, before the
worker does anything else. Nothing is lost or approximated: the series get the same
counts, sums (added in the same order, so the same floats) and buckets as ``inc`` and
``observe`` would have given them, a turn later. Tally must be the only writer of its
series.

A scrape served by this process folds first (:func:`app.core.observability.metrics_registry`),
so it reports every request answered before it. The in-flight gauge is set to the
requests begun and not yet ended as of the last fold: a request begun and ended within
one turn (most cached answers) is never seen in flight, as no scrape can run inside a
turn.
"""

from __future__ import annotations

import asyncio
import os
import threading
from bisect import bisect_left
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

Key = tuple[str, str, int]  # method, route template, status


class _Counted:
    """A series' requests since the last fold: their durations, in order, and how many fell
    in each of the histogram's buckets."""

    __slots__ = ("buckets", "durations")

    def __init__(self, buckets: int) -> None:
        self.durations: list[float] = []
        self.buckets = [0] * buckets


class Tally:
    def __init__(self, requests: Counter, latency: Histogram, in_flight: Gauge) -> None:
        self._requests = requests
        self._latency = latency
        self._in_flight = in_flight
        # The histogram's upper bounds, +Inf last: a duration falls in the first it does
        # not exceed, as Histogram.observe finds it.
        self._bounds: tuple[float, ...] = tuple(latency._upper_bounds)
        self._lock = threading.Lock()
        self._counted: dict[Key, _Counted] = {}
        self._series: dict[Key, tuple[Any, Any]] = {}  # the labelled children, looked up once
        self._running = 0  # requests begun and not yet ended, in this process
        self._shown = 0  # what the in-flight gauge was last set to
        self._due: asyncio.AbstractEventLoop | None = None  # the loop a fold is scheduled on
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        """In a forked child: what the parent counted is the parent's to fold (its series
        are its own: under several workers, files named by its process id)."""
        self._lock = threading.Lock()
        self._counted = {}
        self._running = 0
        self._due = None

    def began(self) -> None:
        """A request came in."""
        with self._lock:
            self._running += 1
            now = self._schedule()
        if now:
            self.fold()

    def ended(self, method: str, route: str, status: int, duration: float) -> None:
        """A request was answered ``status`` after ``duration`` seconds (it :meth:`began`)."""
        with self._lock:
            self._running -= 1
            key = (method, route, status)
            counted = self._counted.get(key)
            if counted is None:
                counted = self._counted[key] = _Counted(len(self._bounds))
            counted.durations.append(duration)
            if duration == duration:  # a NaN falls in no bucket, as in Histogram.observe
                counted.buckets[bisect_left(self._bounds, duration)] += 1
            now = self._schedule()
        if now:
            self.fold()

    def _schedule(self) -> bool:
        """Have the running loop fold on its next turn (once per turn); True when there is
        no running loop, so the caller folds at once. Called with the lock held."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return True
        if self._due is not loop:
            try:
                loop.call_soon(self._fold_on_turn)
            except RuntimeError:  # the loop is closing
                return True
            self._due = loop
        return False

    def _fold_on_turn(self) -> None:
        with self._lock:
            self._due = None
        self.fold()

    def fold(self) -> None:
        """Hand what was counted since the last fold to prometheus_client's series."""
        with self._lock:
            counted, self._counted = self._counted, {}
            running = self._running
            for key, tally in counted.items():
                series = self._series.get(key)
                if series is None:
                    labels = (key[0], key[1], str(key[2]))
                    series = self._series[key] = (self._requests.labels(*labels), self._latency.labels(*labels))
                requests, latency = series
                requests.inc(len(tally.durations))
                # Added one by one, as observe adds them: the same float, to the last digit.
                # Tally is the only writer of these series, so nothing changes it meanwhile.
                total = latency._sum.get()
                for duration in tally.durations:
                    total += duration
                latency._sum.set(total)
                for index, hits in enumerate(tally.buckets):
                    if hits:
                        latency._buckets[index].inc(hits)
            if running != self._shown:
                self._in_flight.set(running)
                self._shown = running

"""Request metrics counted by Tally reach prometheus_client's series as inc and observe
would have put them there, on the event loop's next turn, and before any scrape."""

from __future__ import annotations

import asyncio
import math
import os
import random

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from app.core.observability import LATENCY_BUCKETS, TALLY, metrics_registry
from app.core.tally import Tally

LABELS = ["method", "handler", "status"]
SERIES = {"method": "GET", "handler": "/v1/exercises"}


def metrics() -> tuple[CollectorRegistry, Counter, Histogram, Gauge]:
    registry = CollectorRegistry()
    return (
        registry,
        Counter("requests_total", "Requests.", LABELS, registry=registry),
        Histogram("request_seconds", "Latency.", LABELS, buckets=LATENCY_BUCKETS, registry=registry),
        Gauge("in_flight", "In flight.", registry=registry),
    )


def exposition(registry: CollectorRegistry) -> list[str]:
    """The scrape's samples, without the series' creation times."""
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


# On each bucket's bound, between bounds, past the last, zero, negative, not a number.
DURATIONS = [*LATENCY_BUCKETS, 0.0, 0.0049, 0.0051, 0.3, 29.999, 30.0001, 1e9, -0.5, math.nan, math.inf]


def test_a_fold_gives_the_series_what_inc_and_observe_give_them() -> None:
    registry, requests, latency, in_flight = metrics()
    twin, twin_requests, twin_latency, _ = metrics()
    tally = Tally(requests, latency, in_flight)
    for number, duration in enumerate(DURATIONS):
        status = 200 if number % 3 else 404
        tally.began()
        tally.ended("GET", "/v1/exercises", status, duration)  # no loop running: folded at once
        twin_requests.labels("GET", "/v1/exercises", str(status)).inc()
        twin_latency.labels("GET", "/v1/exercises", str(status)).observe(duration)
    assert exposition(registry) == exposition(twin)
    counted = [registry.get_sample_value("requests_total", {**SERIES, "status": s}) for s in ("200", "404")]
    assert sum(c or 0.0 for c in counted) == len(DURATIONS)
    smallest = {**SERIES, "status": "404", "le": "0.005"}  # 0.005 itself, 0.0 and -0.5 among the 404s
    assert (registry.get_sample_value("request_seconds_bucket", smallest) or 0.0) >= 1


def test_sums_added_a_turn_at_a_time_are_the_floats_observe_gives() -> None:
    registry, requests, latency, in_flight = metrics()
    twin, twin_requests, twin_latency, _ = metrics()
    tally = Tally(requests, latency, in_flight)
    randomly = random.Random(15)
    turns = [[0.1], [0.2, 0.3]] + [[randomly.uniform(0, 2) for _ in range(randomly.randint(1, 9))] for _ in range(40)]

    async def served() -> None:
        for turn in turns:
            for duration in turn:
                tally.began()
                tally.ended("GET", "/v1/exercises", 200, duration)
                twin_requests.labels("GET", "/v1/exercises", "200").inc()
                twin_latency.labels("GET", "/v1/exercises", "200").observe(duration)
            await asyncio.sleep(0)

    asyncio.run(served())
    assert exposition(registry) == exposition(twin)
    assert 0.1 + (0.2 + 0.3) != (0.1 + 0.2) + 0.3, "the order of additions shows in the sum"


def test_requests_ended_in_one_turn_are_folded_on_the_next() -> None:
    registry, requests, latency, in_flight = metrics()
    tally = Tally(requests, latency, in_flight)

    def counted() -> float:
        return registry.get_sample_value("requests_total", {"method": "GET", "handler": "/", "status": "200"}) or 0.0

    async def turns() -> None:
        for _ in range(3):
            tally.began()
        assert registry.get_sample_value("in_flight") == 0, "not before the next turn"
        await asyncio.sleep(0)
        assert registry.get_sample_value("in_flight") == 3
        for _ in range(2):
            tally.ended("GET", "/", 200, 0.001)
        assert counted() == 0
        await asyncio.sleep(0)
        assert counted() == 2 and registry.get_sample_value("in_flight") == 1
        tally.ended("GET", "/", 200, 0.001)
        tally.fold()  # as a scrape does: no need to wait for the turn
        assert counted() == 3 and registry.get_sample_value("in_flight") == 0

    asyncio.run(turns())


def test_a_loop_that_stopped_before_its_fold_does_not_hold_back_the_next() -> None:
    registry, requests, latency, in_flight = metrics()
    tally = Tally(requests, latency, in_flight)
    stopped = asyncio.new_event_loop()

    async def one() -> None:
        tally.began()
        tally.ended("GET", "/", 200, 0.001)

    stopped.run_until_complete(one())  # its fold was scheduled, and never runs
    stopped.close()

    async def another() -> None:
        tally.began()
        tally.ended("GET", "/", 200, 0.001)
        await asyncio.sleep(0)

    asyncio.run(another())
    assert registry.get_sample_value("requests_total", {"method": "GET", "handler": "/", "status": "200"}) == 2


def test_a_scrape_counts_every_request_answered_before_it() -> None:
    labels = {"method": "GET", "handler": "/v1/tally-test", "status": "200"}

    def scraped() -> float:
        for family in metrics_registry().collect():
            for sample in family.samples:
                if sample.name == "http_requests_total" and sample.labels == labels:
                    return sample.value
        return 0.0

    async def answered() -> tuple[float, float]:
        before = scraped()
        TALLY.began()
        TALLY.ended("GET", "/v1/tally-test", 200, 0.002)
        return before, scraped()  # within the same turn

    before, after = asyncio.run(answered())
    assert after == before + 1


def test_a_forked_child_does_not_fold_what_its_parent_counted() -> None:
    registry, requests, latency, in_flight = metrics()
    tally = Tally(requests, latency, in_flight)
    series = {"method": "GET", "handler": "/", "status": "200"}

    async def counted_then_forked() -> float:
        tally.began()
        tally.ended("GET", "/", 200, 0.001)  # waiting for the next turn's fold
        reading, writing = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            tally.fold()
            os.write(writing, str(registry.get_sample_value("requests_total", series) or 0.0).encode())
            os._exit(0)
        os.close(writing)
        os.waitpid(child, 0)  # noqa: ASYNC222 - the child folds, writes and exits at once
        in_child = float(os.read(reading, 64).decode())
        os.close(reading)
        return in_child

    in_child = asyncio.run(counted_then_forked())
    assert in_child == 0.0
    assert registry.get_sample_value("requests_total", series) == 1.0, "the parent folds its own"

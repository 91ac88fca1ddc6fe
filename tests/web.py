"""Plain-HTTP calls from the tests to the servers they start, sharing one SSL context.

httpx builds an SSL context for every Client it makes, loading the system's CA
certificates (about 25 ms of CPU), and ``httpx.get``/``httpx.post`` make a Client per call.
The tests speak plain HTTP to local servers, but they poll and retry (a server starting,
a write until acknowledged) from threads beside the servers they wait for: that context
was a fifth of the suite's CPU, taken from the servers starting on the same cores."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

TLS = ssl.create_default_context()


def client(**options: Any) -> httpx.Client:
    return httpx.Client(verify=TLS, **options)


def get(url: str, **options: Any) -> httpx.Response:
    return httpx.get(url, verify=TLS, **options)


def post(url: str, **options: Any) -> httpx.Response:
    return httpx.post(url, verify=TLS, **options)

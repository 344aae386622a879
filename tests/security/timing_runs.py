"""How the timing tests send their requests and time the answers.

A sender sends one request naming an identifier and returns its answer time at the client, in
ms; anything it must do first (a form's untimed GET for its CSRF token and cookie) is outside
the timed part. A run sends every request of two kinds in one shuffled, interleaved order:
on a settled stack (the worker finished before each request), without any pause, or as pairs
of a request and a probe right after it.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from tests.security.timing_stack import ServeProcess, no_garbage_collection
from tests.security.timing_stats import Comparison

SEED = 20261121
TIMEOUT = 10.0
EXISTING, UNKNOWN = "existing", "unknown"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
SUCCESS = 'data-result="success"'

Sender = Callable[[requests.Session, str], float]


def api_sender(served: ServeProcess, path: str, body: Callable[[str], dict[str, Any]]) -> Sender:
    """POST ``body(identifier)`` as JSON to ``path``; the answer must be 202."""

    def send(http: requests.Session, identifier: str) -> float:
        started = time.perf_counter()
        answer = http.post(served.url + path, json=body(identifier), timeout=TIMEOUT)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 202, answer.text
        return elapsed * 1000

    return send


def form_sender(served: ServeProcess, path: str, fields: Callable[[str], dict[str, str]]) -> Sender:
    """GET the form at ``path`` (untimed: its CSRF token, and the cookie the first time), then
    POST ``fields(identifier)`` with the token, timed; the answer must be the "sent" page."""

    def send(http: requests.Session, identifier: str) -> float:
        page = http.get(served.url + path, timeout=TIMEOUT)
        match = CSRF.search(page.text)
        assert page.status_code == 200 and match, page.text
        data = {**fields(identifier), "csrf_token": match.group(1)}
        started = time.perf_counter()
        answer = http.post(served.url + path, data=data, timeout=TIMEOUT, allow_redirects=False)
        elapsed = time.perf_counter() - started
        assert answer.status_code == 200 and SUCCESS in answer.text, answer.text
        return elapsed * 1000

    return send


def interleaved(existing: Sequence[str], unknown: Sequence[str]) -> list[tuple[str, str]]:
    """Both kinds shuffled, then interleaved in pairs, one of each kind in a random order:
    whatever drifts during the run (caches, the database's size, the machine's other work)
    weighs on both alike."""
    rng = random.Random(SEED)
    existing, unknown = rng.sample(existing, len(existing)), rng.sample(unknown, len(unknown))
    order: list[tuple[str, str]] = []
    for pair in zip(existing, unknown, strict=True):
        order += rng.sample([(EXISTING, pair[0]), (UNKNOWN, pair[1])], 2)
    return order


def shuffled(existing: Sequence[str], unknown: Sequence[str]) -> list[tuple[str, str]]:
    """Both kinds in one plain shuffle: the kind of a request says nothing of the kind of the
    one before it. (In pairs, a request follows one of the other kind three times in four:
    without pauses, where the worker's work for one request falls into the next answer, the
    pairs would turn that channel into a difference between the kinds themselves.)"""
    order = [(EXISTING, e) for e in existing] + [(UNKNOWN, u) for u in unknown]
    random.Random(SEED).shuffle(order)
    return order


def warm(served: ServeProcess, send: Sender, http: requests.Session, warm_up: list[str]) -> None:
    """Untimed requests first (imports, caches, connection pools)."""
    for identifier in warm_up:
        send(http, identifier)
        served.wait_until_idle()


def settled_run(
    served: ServeProcess,
    send: Sender,
    existing: list[str],
    unknown: list[str],
    warm_up: list[str],
) -> Comparison:
    """Each request on an idle service: the worker finished the previous one's work."""
    return _timed(served, send, interleaved(existing, unknown), warm_up, settle=True)


def unpaused_run(
    served: ServeProcess,
    send: Sender,
    existing: list[str],
    unknown: list[str],
    warm_up: list[str],
) -> Comparison:
    """Every request as soon as the previous answer is in: the worker's work for each falls
    into the answers that follow, whatever they name."""
    comparison = _timed(served, send, shuffled(existing, unknown), warm_up, settle=False)
    served.wait_until_idle()
    return comparison


def _timed(
    served: ServeProcess,
    send: Sender,
    order: list[tuple[str, str]],
    warm_up: list[str],
    *,
    settle: bool,
) -> Comparison:
    """Time each (kind, identifier) of ``order``; ``settle``: wait for the worker after each."""
    times: dict[str, list[float]] = {EXISTING: [], UNKNOWN: []}
    with requests.Session() as http, no_garbage_collection():
        # One kept-alive connection, as a script would use.
        warm(served, send, http, warm_up)
        for kind, identifier in order:
            times[kind].append(send(http, identifier))
            if settle:
                served.wait_until_idle()
    return Comparison(times[EXISTING], times[UNKNOWN])


@dataclass(frozen=True)
class Pair:
    kind: str
    first: str  # the request whose work the probe may meet
    probe: str  # a fresh unknown identifier: timed
    delay: float  # seconds from the first answer to the probe


def pairs(
    existing: list[str], unknown: list[str], probes: list[str], delays: Sequence[float]
) -> list[Pair]:
    """The pairs in one shuffled, interleaved order; the i-th pair of each kind has the same
    delay before its probe (cycling through ``delays``), so the kinds differ only in the first
    request."""
    firsts = interleaved(existing, unknown)
    assert len(probes) == len(firsts)
    pace = [d for d in delays for _ in range(2)]  # one pair of each kind per delay in turn
    return [
        Pair(kind, first, probe, pace[n % len(pace)])
        for n, ((kind, first), probe) in enumerate(zip(firsts, probes, strict=True))
    ]


def probe_run(
    served: ServeProcess, send: Sender, order: list[Pair], warm_up: list[str]
) -> Comparison:
    """The channel through the next answer: does the answer after a request naming an existing
    account take longer than the one after a request naming none? Each pair starts on an idle
    service; its probe follows its first request after the pair's delay, without waiting for
    the worker; only the probe is timed."""
    times: dict[str, list[float]] = {EXISTING: [], UNKNOWN: []}
    with requests.Session() as http, no_garbage_collection():
        warm(served, send, http, warm_up)
        for pair in order:
            send(http, pair.first)
            time.sleep(pair.delay)  # not a busy wait: it would take a core from the service
            times[pair.kind].append(send(http, pair.probe))
            served.wait_until_idle()
    return Comparison(times[EXISTING], times[UNKNOWN])

"""Enumeration by timing, against the real stack: does the answer's latency tell an account?

The service runs as it is deployed: `keycloak-pwreset serve` in its own process (its outbox
worker with it, as `serve` runs it by default), over the session's real Keycloak and a real SMTP
server in a process of its own (timing_stack.py, timing_sink.py: nothing of the service or of
the mail shares the test's interpreter). One serve process serves every test of this module.

Each of the first four tests (JSON API and HTML form, reset and sign-up) sends 300 requests
naming existing accounts and 300 naming none, in one shuffled, interleaved order, one at a time
as a patient attacker would, and times each answer at the client. Between requests it waits
until the worker has finished the previous request's work (the outbox is empty) and a moment
more, so that every answer is timed on a settled stack: what is compared is each answer itself,
where an account's existence could leak (the worker starts on a request only after its answer
has gone: web/after_answer.py). A form's CSRF token and cookie come from an untimed GET of the
form before each timed POST, as a browser gets them.

The last two do not wait for the worker. One sends pairs: a request naming an existing account
or none, then, a moment later, a probe naming a fresh unknown address; only the probe is timed.
The worker's work for the first request (much more for a real account: a token, an email) falls
into the probe's answer: does that answer tell what the first request named? (the channel
through the next answer). The other sends 300 + 300 requests back to back, in one plain shuffle,
each as soon as the previous answer is in, and compares their distributions.

In every test the two samples must be indistinguishable: two-sample Kolmogorov-Smirnov
p > 0.01 and, but for the back-to-back test, medians within 5 % (timing_stats.py: back to
back, the answers are a mixture of two modes, whose median jumps between them by chance).
Their medians, ratios, p-values and deciles are printed at the end of the run. Like any
statistical test at a 1 % level, each would fail about once in a hundred runs even for
identical distributions; a real leak (Keycloak's own flow: ratio ~2, p ~ 1e-15, see
bench/reset_timing.py) fails it every time.

Each test also checks that the existing accounts really were found (their emails arrived) and
the unknown ones were not (no email, or a sign-up's verification email), so that it cannot pass
by timing two equal nothings. Each account is named at most 3 times, which the default email
cooldown (3 emails an hour per account and client) still serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import pytest
from keycloak import KeycloakAdmin

from keycloak_pwreset.worker import SETTLE_SECONDS
from keycloak_pwreset_demo.realm import RealmInfo
from tests.security.timing_runs import (
    Sender,
    api_sender,
    form_sender,
    pairs,
    probe_run,
    settled_run,
    unpaused_run,
)
from tests.security.timing_sink import SinkProcess, sink_process
from tests.security.timing_stack import ServeProcess, add_accounts, serve_process, unknown_addresses
from tests.security.timing_stats import (
    Comparison,
    assert_indistinguishable,
    assert_same_distribution,
)

SAMPLES = 300  # per kind: existing and unknown
ACCOUNTS = 100  # existing accounts per settled test, each named SAMPLES / ACCOUNTS times
PAIRS = 200  # per kind, in the test of the channel through the next answer
WARM_UP = 20  # untimed requests first (imports, caches, connection pools)
RESET_SUBJECT = "Reset your password for "
EXISTS_SUBJECT = "You already have a "
SIGNUP_SUBJECT = "Confirm your email to finish signing up"
# When the probe follows the first request's answer: across the time the worker works on it
# (it starts SETTLE_SECONDS after the answer, and takes some 40 ms for an unknown account and
# 70 ms for an existing one on 2 cores), so that the probe meets that work.
PROBE_DELAYS = tuple(SETTLE_SECONDS + ms / 1000 for ms in (5, 15, 25, 35, 45, 55, 65))

# 3 requests per account stay within the default cooldown (3 emails an hour), so every
# existing account's request really ends in an email.
assert SAMPLES % ACCOUNTS == 0 and SAMPLES // ACCOUNTS <= 3


@pytest.fixture(scope="module")
def mail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkProcess]:
    with sink_process(tmp_path_factory.mktemp("timing-mail")) as sink:
        yield sink


@pytest.fixture(scope="module")
def served(
    realm: RealmInfo, mail: SinkProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    with serve_process(realm, mail.port, tmp_path_factory.mktemp("timing")) as served:
        yield served


@dataclass(frozen=True)
class Run:
    label: str  # in the figures
    prefix: str  # of the test's addresses: 2 letters, so that every address has one length
    send: Sender


def reset_body(email: str) -> dict[str, str]:
    return {"identifier": email}


def signup_body(email: str) -> dict[str, str]:
    # The test realm names accounts by username (not by email).
    username = email.split("@")[0]
    return {"email": email, "first_name": "Timing", "last_name": "Person", "username": username}


def reset_api(served: ServeProcess) -> Sender:
    return api_sender(served, "/api/v1/password-resets", reset_body)


def signup_api(served: ServeProcess) -> Sender:
    return api_sender(served, "/api/v1/signups", signup_body)


class Samples(NamedTuple):
    accounts: list[str]
    others: list[str]  # the unknown (or new) addresses
    warm_up: list[str]
    comparison: Comparison


def settled_samples(served: ServeProcess, admin: KeycloakAdmin, run: Run, others: str) -> Samples:
    """Run ``run`` settled over fresh accounts and addresses, and record its figures.

    The caller checks the mail and the bounds.
    """
    accounts = add_accounts(admin, run.prefix, ACCOUNTS)
    existing = accounts * (SAMPLES // ACCOUNTS)
    unknown = unknown_addresses(run.prefix + others, SAMPLES)
    warm_up = unknown_addresses(run.prefix + "warm", WARM_UP)
    comparison = settled_run(served, run.send, existing, unknown, warm_up)
    comparison.record(run.label)
    return Samples(accounts, unknown, warm_up, comparison)


def timed_resets(served: ServeProcess, admin: KeycloakAdmin, mail: SinkProcess, run: Run) -> None:
    """300 + 300 settled reset requests through ``run.send``; timed, checked, recorded."""
    accounts, unknown, warm_up, comparison = settled_samples(served, admin, run, "none")
    assert mail.delivered(accounts, RESET_SUBJECT) == SAMPLES
    assert mail.delivered(unknown + warm_up) == 0
    assert_indistinguishable(comparison)


def timed_signups(served: ServeProcess, admin: KeycloakAdmin, mail: SinkProcess, run: Run) -> None:
    """300 + 300 settled sign-up requests (emails with an account, and new ones)."""
    accounts, new, _warm_up, comparison = settled_samples(served, admin, run, "new")
    # Emails with an account get "you already have an account", new ones a verification link.
    assert mail.delivered(accounts, EXISTS_SUBJECT) == SAMPLES
    assert mail.delivered(accounts, SIGNUP_SUBJECT) == 0
    assert mail.delivered(new, SIGNUP_SUBJECT) == SAMPLES
    assert mail.delivered(new, EXISTS_SUBJECT) == 0
    assert_indistinguishable(comparison)


def test_reset_requests_take_as_long_for_existing_and_unknown_accounts(
    served: ServeProcess, admin: KeycloakAdmin, mail: SinkProcess
) -> None:
    timed_resets(served, admin, mail, Run("reset", "tr", reset_api(served)))


def test_signup_requests_take_as_long_for_existing_and_new_emails(
    served: ServeProcess, admin: KeycloakAdmin, mail: SinkProcess
) -> None:
    timed_signups(served, admin, mail, Run("sign-up", "ts", signup_api(served)))


def test_reset_form_takes_as_long_for_existing_and_unknown_accounts(
    served: ServeProcess, admin: KeycloakAdmin, mail: SinkProcess
) -> None:
    send = form_sender(served, "/forgot-password", reset_body)
    timed_resets(served, admin, mail, Run("reset form", "fr", send))


def test_signup_form_takes_as_long_for_existing_and_new_emails(
    served: ServeProcess, admin: KeycloakAdmin, mail: SinkProcess
) -> None:
    send = form_sender(served, "/signup", signup_body)
    timed_signups(served, admin, mail, Run("sign-up form", "fs", send))


def test_answer_after_an_existing_account_takes_as_long_as_after_an_unknown_one(
    served: ServeProcess, admin: KeycloakAdmin, mail: SinkProcess
) -> None:
    accounts = add_accounts(admin, "pr", PAIRS // 2)
    unknown = unknown_addresses("prnone", PAIRS)
    probes = unknown_addresses("prprob", 2 * PAIRS)
    order = pairs(accounts * 2, unknown, probes, PROBE_DELAYS)
    warm_up = unknown_addresses("prwarm", WARM_UP)
    comparison = probe_run(served, reset_api(served), order, warm_up)
    comparison.record("probe after reset")
    assert mail.delivered(accounts, RESET_SUBJECT) == PAIRS
    assert mail.delivered(unknown + probes + warm_up) == 0
    assert_indistinguishable(comparison)


def test_reset_requests_without_pauses_take_as_long_for_existing_and_unknown_accounts(
    served: ServeProcess, admin: KeycloakAdmin, mail: SinkProcess
) -> None:
    # One request per account: none can be absorbed by an earlier one still waiting.
    accounts = add_accounts(admin, "ru", SAMPLES)
    unknown = unknown_addresses("runone", SAMPLES)
    warm_up = unknown_addresses("ruwarm", WARM_UP)
    comparison = unpaused_run(served, reset_api(served), accounts, unknown, warm_up)
    comparison.record("reset without pauses")
    assert mail.delivered(accounts, RESET_SUBJECT) == SAMPLES
    assert mail.delivered(unknown + warm_up) == 0
    # The medians of these answers are a mixture's (timing_stats.assert_same_distribution); the
    # channel they would carry is the probe test's, which keeps both bounds.
    assert_same_distribution(comparison)

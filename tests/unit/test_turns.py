"""Turns: the pool's jobs for one person act one at a time, in the order they were asked for."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from keycloak_pwreset.flows.signup import SignupRequest
from keycloak_pwreset.gateway import KeycloakUser, SignupRules
from keycloak_pwreset.services import build_services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.turns import Turns
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport, SlowTransport

WAIT = 5.0  # a bound for a thread that should finish at once, never reached when it works


@dataclass
class Log:
    lock: threading.Lock = field(default_factory=threading.Lock)
    events: list[str] = field(default_factory=list)

    def __call__(self, event: str) -> None:
        with self.lock:
            self.events.append(event)


def in_job(turns: Turns, job_id: int, work: Callable[[], None]) -> threading.Thread:
    """Run ``work`` as the pool would: in a thread of its own, as job ``job_id``."""

    def run() -> None:
        with turns.job(job_id):
            work()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_later_job_for_the_same_person_waits_for_the_earlier_one() -> None:
    turns, log = Turns(), Log()
    turns.begin(1)
    turns.begin(2)

    def act(name: str, delay: float) -> Callable[[], None]:
        def work() -> None:
            time.sleep(delay)  # the look-up: the later job's is faster
            with turns.turn("alice"):
                log(f"{name} acts")
                time.sleep(0.05)
                log(f"{name} done")

        return work

    threads = [in_job(turns, 1, act("first", 0.15)), in_job(turns, 2, act("second", 0.0))]
    for thread in threads:
        thread.join(WAIT)
    assert log.events == ["first acts", "first done", "second acts", "second done"]


def test_jobs_for_different_people_act_at_once() -> None:
    turns, log = Turns(), Log()
    release = threading.Event()
    turns.begin(1)
    turns.begin(2)

    def hold() -> None:
        with turns.turn("alice"):
            log("alice")
            release.wait(WAIT)

    def other() -> None:
        with turns.turn("bob"):
            log("bob")

    first = in_job(turns, 1, hold)
    while "alice" not in log.events:
        time.sleep(0.005)
    second = in_job(turns, 2, other)
    second.join(WAIT)
    assert not second.is_alive()  # bob's job did not wait for alice's to end
    release.set()
    first.join(WAIT)


def test_a_job_waits_while_an_earlier_one_has_not_yet_found_its_person() -> None:
    """The earlier job could turn out to be for the same person."""
    turns, log = Turns(), Log()
    decide = threading.Event()
    turns.begin(1)
    turns.begin(2)

    def earlier() -> None:
        decide.wait(WAIT)
        log("earlier decided")
        with turns.turn("bob"):
            log("earlier acts")

    def later() -> None:
        with turns.turn("alice"):
            log("later acts")

    threads = [in_job(turns, 1, earlier), in_job(turns, 2, later)]
    time.sleep(0.1)
    assert log.events == []  # the later job waits for the earlier one to decide
    decide.set()
    for thread in threads:
        thread.join(WAIT)
    assert log.events[0] == "earlier decided"
    assert "later acts" in log.events


def test_a_job_that_ends_without_a_person_lets_the_later_ones_go() -> None:
    turns, log = Turns(), Log()
    turns.begin(1)
    turns.begin(2)

    def later_work() -> None:
        with turns.turn("alice"):
            log("acts")

    later = in_job(turns, 2, later_work)
    time.sleep(0.05)
    assert log.events == []
    turns.end(1)  # the earlier job found no account, and ended
    later.join(WAIT)
    assert log.events == ["acts"]


def test_outside_the_pool_a_turn_is_taken_at_once() -> None:
    turns = Turns()
    turns.begin(1)  # even with a job of the pool undecided
    with turns.turn("alice"):
        pass


class SlowEmailLookup(FakeKeycloak):
    """Sign-up looks its address up slowly: a later reset for the same account overtakes it."""

    def find_user_by_email(self, email: str) -> KeycloakUser | None:
        time.sleep(0.3)
        return super().find_user_by_email(email)


def test_a_sign_up_then_a_reset_for_one_account_mail_in_order_and_the_last_link_lives(
    db: Database, clock: FakeClock, transport: MemoryTransport
) -> None:
    """The sign-up form used with an address that has an account, then the reset form with
    its username: both jobs run at once in the pool, and the sign-up's look-up is slower.
    The account-exists email leaves first and the reset email last, and its link is the one
    that works (one live link per account): the person's latest email is always right."""
    keycloak = SlowEmailLookup()
    keycloak.add_user("alice", "alice@example.org")
    services = build_services(
        make_settings(worker={"concurrency": 4}),
        gateway=keycloak,
        transport=transport,
        db=db,
        clock=clock,
    )
    applicant = SignupRequest(email="alice@example.org", first_name="A", last_name="L")
    services.signup.request(applicant, SignupRules())
    services.reset.request("alice")
    assert services.worker.run_once() == 2
    subjects = [mail.message["Subject"] for mail in transport.sent]
    texts = [mail.message.get_body(("plain",)).get_content() for mail in transport.sent]
    link = re.escape(PUBLIC_URL) + r"/reset-password\?token=([\w-]+)"
    tokens = [re.findall(link, text) for text in texts]
    assert [len(found) for found in tokens] == [1, 1], subjects
    exists, reset = (found[0] for found in tokens)
    assert services.reset.check(reset) is not None
    assert services.reset.check(exists) is None  # superseded by the later request's link
    assert subjects[0].startswith("You already have") and subjects[1].startswith("Reset your")


def test_concurrent_requests_for_one_account_stay_within_its_email_limit(
    db: Database, clock: FakeClock, keycloak: FakeKeycloak
) -> None:
    """Twenty networks ask at once; the pool works eight jobs at a time; the account's
    hourly budget (10) holds, because its cooldown check and count are one turn."""
    transport = SlowTransport()
    settings = make_settings(worker={"concurrency": 8})
    services = build_services(settings, gateway=keycloak, transport=transport, db=db, clock=clock)
    for n in range(20):
        services.reset.request("alice", client=f"198.51.100.{n}")
    assert services.worker.run_once() == 20
    assert len(transport.sent) == settings.limits.emails_per_account_per_hour == 10


def test_jobs_leased_later_never_hold_a_job_back() -> None:
    """A flood from another network keeps the pool full of undecided jobs with lower ids
    (they were queued first); a job leased before them acts at once, however many follow."""
    turns, log = Turns(), Log()
    turns.begin(100)  # a real person's request, leased first in its batch
    for flood in range(1, 8):
        turns.begin(flood)  # leased after it, still looking up their identifiers

    def act() -> None:
        with turns.turn("alice"):
            log("acts")

    in_job(turns, 100, act).join(WAIT)
    assert log.events == ["acts"]

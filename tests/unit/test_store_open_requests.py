"""The open requests (store/open_requests.py): what is live, who it is for, revoking one.

Part of the store's contract suite: runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.link_tokens import MAX_FAILED_ATTEMPTS, TokenStore
from keycloak_pwreset.store.open_requests import OpenRequests
from keycloak_pwreset.store.sent_emails import SentEmails
from tests.unit.fakes import FakeClock


@pytest.fixture
def db(any_db: Database) -> Database:
    return any_db


HOUR = timedelta(hours=1)


def test_only_live_links_are_listed_newest_first(db: Database, clock: FakeClock) -> None:
    tokens, requests = TokenStore(db, clock), OpenRequests(db, clock)
    tokens.issue(purpose="reset", ttl=HOUR, user_id="u-old", email="old@example.org")
    clock.advance(minutes=1)
    tokens.issue(purpose="signup", ttl=HOUR, email="New@Example.org", locale="de")
    clock.advance(minutes=1)
    used = tokens.issue(purpose="reset", ttl=HOUR, user_id="u-used", email="used@example.org")
    claimed = tokens.claim(used, "reset")
    assert claimed and tokens.consume(claimed)
    tokens.issue(purpose="reset", ttl=timedelta(minutes=1), user_id="u-short", email="s@x.org")
    clock.advance(minutes=2)  # the short one has expired
    listed = requests.live()
    assert [(r.purpose, r.email, r.user_id) for r in listed] == [
        ("signup", "new@example.org", ""),
        ("reset", "old@example.org", "u-old"),
    ]
    assert listed[0].locale == "de"
    assert listed[0].expires_at - listed[0].created_at == HOUR
    assert [r.email for r in requests.live(purpose="reset")] == ["old@example.org"]
    assert [r.purpose for r in requests.live(address=" NEW@example.org ")] == ["signup"]


def test_a_superseded_or_exhausted_link_is_not_open(db: Database, clock: FakeClock) -> None:
    tokens, requests = TokenStore(db, clock), OpenRequests(db, clock)
    tokens.issue(purpose="reset", ttl=HOUR, user_id="u1", email="a@example.org")
    tokens.issue(purpose="reset", ttl=HOUR, user_id="u1", email="a@example.org")
    [only] = requests.live()
    with db.session() as session:
        from keycloak_pwreset.store.models import LinkToken

        session.get_one(LinkToken, only.id).failed_attempts = MAX_FAILED_ATTEMPTS
    assert requests.live() == []


def test_emails_this_hour_count_the_account_or_the_address(db: Database, clock: FakeClock) -> None:
    tokens, requests, sent = TokenStore(db, clock), OpenRequests(db, clock), SentEmails(db, clock)
    sent.record("u1", network="n1", kind="reset")
    clock.advance(minutes=61)
    tokens.issue(purpose="reset", ttl=HOUR, user_id="u1", email="a@example.org")
    tokens.issue(purpose="signup", ttl=HOUR, email="b@example.org")
    sent.record("u1", network="n1", kind="reset")
    sent.record("u1", network="n2", kind="reset")
    sent.record("b@example.org", network="n1", kind="signup")
    counts = {r.email: r.emails_this_hour for r in requests.live()}
    assert counts == {"a@example.org": 2, "b@example.org": 1}  # the first is over an hour old


def test_revoking_kills_the_link_once(db: Database, clock: FakeClock) -> None:
    tokens, requests = TokenStore(db, clock), OpenRequests(db, clock)
    token = tokens.issue(purpose="reset", ttl=HOUR, user_id="u1", email="a@example.org")
    [open_request] = requests.live()
    assert requests.revoke(open_request.id)
    assert tokens.find_live(token, "reset") is None
    assert tokens.claim(token, "reset") is None
    assert not requests.revoke(open_request.id)  # not live any more
    assert not requests.revoke(open_request.id + 1000)  # unknown
    assert requests.live() == []

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select

from keycloak_pwreset.secret_token import hash_token
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.store.link_tokens import STALE_CLAIM, TokenInfo, TokenStore
from keycloak_pwreset.store.models import LinkToken
from tests.unit.fakes import FakeClock

TTL = timedelta(hours=1)


@pytest.fixture
def db(any_db: Database) -> Database:
    """Part of the store's contract suite: SQLite and PostgreSQL (tests/unit/conftest.py)."""
    return any_db


@pytest.fixture
def store(db: Database, clock: FakeClock) -> TokenStore:
    return TokenStore(db, clock)


@pytest.fixture
def file_db(any_db: Database) -> Database:
    return any_db


def rows(db: Database) -> list[LinkToken]:
    with db.session() as session:
        return list(session.scalars(select(LinkToken).order_by(LinkToken.id)))


def issue_reset(store: TokenStore, user_id: str = "u1") -> str:
    return store.issue(purpose="reset", ttl=TTL, user_id=user_id, email=f"{user_id}@example.org")


def test_issue_stores_only_the_hash(store: TokenStore, db: Database, clock: FakeClock) -> None:
    token = store.issue(
        purpose="reset",
        ttl=TTL,
        user_id="u1",
        email="alice@example.org",
        locale="de",
        data={"k": "v"},
    )
    [row] = rows(db)
    assert row.token_hash == hash_token(token)
    assert row.token_hash != token
    stored = [str(getattr(row, c.key)) for c in LinkToken.__table__.columns]
    assert all(token not in value for value in stored)
    assert (row.purpose, row.user_id, row.email, row.locale) == (
        "reset",
        "u1",
        "alice@example.org",
        "de",
    )
    assert row.data == {"k": "v"}
    assert row.created_at == clock.now
    assert row.expires_at == clock.now + TTL
    assert row.claimed_at is None and row.used_at is None and row.revoked_at is None


def test_find_live_returns_the_token_info(store: TokenStore, clock: FakeClock) -> None:
    token = store.issue(
        purpose="reset", ttl=TTL, user_id="u1", email="a@example.org", locale="fr", data={"x": 1}
    )
    info = store.find_live(token, "reset")
    assert info is not None
    assert (info.purpose, info.user_id, info.email, info.locale) == (
        "reset",
        "u1",
        "a@example.org",
        "fr",
    )
    assert info.data == {"x": 1}
    assert info.expires_at == clock.now + TTL
    assert info.expires_at.tzinfo is not None


def test_find_live_does_not_use_the_token(store: TokenStore) -> None:
    token = issue_reset(store)
    for _ in range(3):
        assert store.find_live(token, "reset") is not None
    assert store.claim(token, "reset") is not None


def test_unknown_token_is_not_found(store: TokenStore) -> None:
    issue_reset(store)
    other = "A" * 43
    assert store.find_live(other, "reset") is None
    assert store.claim(other, "reset") is None


def test_token_expires_with_the_injected_clock(store: TokenStore, clock: FakeClock) -> None:
    token = issue_reset(store)
    clock.advance(minutes=59, seconds=59)
    assert store.find_live(token, "reset") is not None
    clock.advance(seconds=1)
    assert store.find_live(token, "reset") is None
    assert store.claim(token, "reset") is None


def test_new_issue_supersedes_the_earlier_live_token(store: TokenStore, db: Database) -> None:
    first = issue_reset(store)
    second = issue_reset(store)
    assert store.find_live(first, "reset") is None
    assert store.claim(first, "reset") is None
    assert store.find_live(second, "reset") is not None
    revoked = [r for r in rows(db) if r.token_hash == hash_token(first)]
    assert revoked[0].revoked_at is not None


def test_new_issue_leaves_other_accounts_and_purposes_alone(store: TokenStore) -> None:
    alice = issue_reset(store, "alice")
    signup = store.issue(purpose="signup", ttl=TTL, user_id="bob", email="bob@example.org")
    issue_reset(store, "bob")
    assert store.find_live(alice, "reset") is not None
    assert store.find_live(signup, "signup") is not None


def test_signup_tokens_are_owned_by_email(store: TokenStore) -> None:
    first = store.issue(purpose="signup", ttl=TTL, email="new@example.org")
    other = store.issue(purpose="signup", ttl=TTL, email="other@example.org")
    second = store.issue(purpose="signup", ttl=TTL, email="new@example.org")
    assert store.find_live(first, "signup") is None
    assert store.find_live(second, "signup") is not None
    assert store.find_live(other, "signup") is not None


def test_purpose_isolation(store: TokenStore) -> None:
    reset = issue_reset(store)
    signup = store.issue(purpose="signup", ttl=TTL, email="new@example.org")
    assert store.find_live(reset, "signup") is None
    assert store.claim(reset, "signup") is None
    assert store.find_live(signup, "reset") is None
    assert store.claim(signup, "reset") is None
    # The failed cross-purpose attempts did not spoil the tokens.
    assert store.claim(reset, "reset") is not None
    assert store.claim(signup, "signup") is not None


def test_claim_is_exclusive(store: TokenStore) -> None:
    token = issue_reset(store)
    first = store.claim(token, "reset")
    assert first is not None
    assert first.user_id == "u1"
    assert store.claim(token, "reset") is None


def test_claimed_token_is_still_live_for_lookups(store: TokenStore) -> None:
    token = issue_reset(store)
    assert store.claim(token, "reset") is not None
    # A page reload while the submission is in flight still shows the form.
    assert store.find_live(token, "reset") is not None


def test_release_lets_a_claim_happen_again(store: TokenStore) -> None:
    token = issue_reset(store)
    info = store.claim(token, "reset")
    assert info is not None
    store.release(info)
    again = store.claim(token, "reset")
    assert again is not None
    assert again.id == info.id


def test_release_does_not_revive_a_used_token(store: TokenStore) -> None:
    token = issue_reset(store)
    info = store.claim(token, "reset")
    assert info is not None
    assert store.consume(info) is True
    assert store.release(info) is False
    assert store.claim(token, "reset") is None
    assert store.find_live(token, "reset") is None


def test_stale_claim_can_be_taken_again(store: TokenStore, clock: FakeClock) -> None:
    token = issue_reset(store)
    assert store.claim(token, "reset") is not None
    clock.advance(seconds=STALE_CLAIM.total_seconds())
    assert store.claim(token, "reset") is None  # exactly at the limit: not stale yet
    clock.advance(seconds=1)
    assert store.claim(token, "reset") is not None
    assert store.claim(token, "reset") is None  # and the new claim is fresh again


def test_each_claim_gets_its_own_nonce(store: TokenStore, db: Database) -> None:
    token = issue_reset(store)
    looked_up = store.find_live(token, "reset")
    assert looked_up is not None and looked_up.claim_id == ""
    first = store.claim(token, "reset")
    assert first is not None
    assert len(first.claim_id) == 32
    [row] = rows(db)
    assert row.claim_id == first.claim_id
    assert store.release(first) is True
    second = store.claim(token, "reset")
    assert second is not None
    assert second.claim_id not in ("", first.claim_id)


def test_after_a_stale_takeover_only_the_new_claim_consumes(
    store: TokenStore, clock: FakeClock
) -> None:
    # Two completions of one link: the first stalls past STALE_CLAIM, the
    # second takes the claim over; both then try to consume. Only one may.
    token = issue_reset(store)
    first = store.claim(token, "reset")
    assert first is not None
    clock.advance(seconds=STALE_CLAIM.total_seconds() + 1)
    second = store.claim(token, "reset")
    assert second is not None
    assert [store.consume(first), store.consume(second)] == [False, True]
    assert store.consume(second) is False  # and not twice by the same holder


def test_consume_after_a_takeover_changes_nothing(
    store: TokenStore, db: Database, clock: FakeClock
) -> None:
    token = issue_reset(store, "alice")
    first = store.claim(token, "reset")
    assert first is not None
    clock.advance(seconds=STALE_CLAIM.total_seconds() + 1)
    second = store.claim(token, "reset")
    assert second is not None
    other = store.issue(purpose="signup", ttl=TTL, user_id="alice", email="alice@example.org")
    assert store.consume(first) is False
    # Not used, and the account's other live token is not revoked by the loser.
    assert store.find_live(token, "reset") is not None
    assert store.find_live(other, "signup") is not None
    assert store.consume(second) is True
    assert store.find_live(other, "signup") is None


def test_a_taken_over_claim_cannot_be_released(store: TokenStore, clock: FakeClock) -> None:
    token = issue_reset(store)
    first = store.claim(token, "reset")
    assert first is not None
    clock.advance(seconds=STALE_CLAIM.total_seconds() + 1)
    second = store.claim(token, "reset")
    assert second is not None
    # The late first attempt fails and gives the link back: that must not free
    # the second attempt's claim for a third one.
    assert store.release(first) is False
    assert store.claim(token, "reset") is None
    assert store.consume(second) is True


def test_a_copy_from_find_live_can_neither_consume_nor_release(store: TokenStore) -> None:
    token = issue_reset(store)
    looked_up = store.find_live(token, "reset")
    assert looked_up is not None
    claimed = store.claim(token, "reset")
    assert claimed is not None
    assert store.consume(looked_up) is False
    assert store.release(looked_up) is False
    assert store.claim(token, "reset") is None  # still claimed by ``claimed``
    assert store.consume(claimed) is True


def test_consume_marks_used_and_revokes_the_accounts_other_tokens(
    store: TokenStore, db: Database, clock: FakeClock
) -> None:
    token = issue_reset(store, "alice")
    # Another live token of the same account (a sign-up link bound to it, say).
    extra = store.issue(purpose="signup", ttl=TTL, user_id="alice", email="alice@example.org")
    bob = issue_reset(store, "bob")
    info = store.claim(token, "reset")
    assert info is not None
    clock.advance(seconds=5)
    store.consume(info)

    assert store.find_live(token, "reset") is None
    assert store.claim(token, "reset") is None
    assert store.find_live(extra, "signup") is None
    assert store.find_live(bob, "reset") is not None

    by_hash = {r.token_hash: r for r in rows(db)}
    assert by_hash[hash_token(token)].used_at == clock.now
    assert by_hash[hash_token(token)].revoked_at is None
    assert by_hash[hash_token(extra)].revoked_at == clock.now
    assert by_hash[hash_token(extra)].used_at is None
    assert by_hash[hash_token(bob)].revoked_at is None


def test_consume_of_a_signup_token_is_scoped_to_its_email(store: TokenStore) -> None:
    token = store.issue(purpose="signup", ttl=TTL, email="new@example.org")
    other = store.issue(purpose="signup", ttl=TTL, email="other@example.org")
    info = store.claim(token, "signup")
    assert info is not None
    store.consume(info)
    assert store.find_live(token, "signup") is None
    assert store.claim(token, "signup") is None
    assert store.find_live(other, "signup") is not None


@pytest.mark.parametrize(
    "junk",
    ["", "short", "x" * 5000, "a" * 30 + "'; DROP TABLE recovery_tokens; --", "é" * 43],
)
def test_junk_tokens_never_reach_the_database(store: TokenStore, db: Database, junk: str) -> None:
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert store.find_live(junk, "reset") is None
        assert store.claim(junk, "reset") is None
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert statements == []


def test_the_statement_recorder_does_see_real_lookups(store: TokenStore, db: Database) -> None:
    # Guards the test above: with a well-formed token the database is queried.
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        store.find_live("A" * 43, "reset")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert statements


def test_exactly_one_of_eight_concurrent_claims_wins(file_db: Database, clock: FakeClock) -> None:
    store = TokenStore(file_db, clock)
    token = issue_reset(store)
    barrier = threading.Barrier(8)
    results: list[TokenInfo | None] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait(timeout=5)
            outcome = store.claim(token, "reset")
        except BaseException as exc:  # surfaced below, not swallowed by the thread
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(results) == 8
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].user_id == "u1"


def test_file_database_keeps_tokens_across_reopen(tmp_path: Path, clock: FakeClock) -> None:
    url = f"sqlite:///{tmp_path / 'persist.db'}"
    first = open_database(url)
    token = issue_reset(TokenStore(first, clock))
    first.dispose()
    second = open_database(url)
    try:
        assert TokenStore(second, clock).find_live(token, "reset") is not None
    finally:
        second.dispose()

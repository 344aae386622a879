from __future__ import annotations

import base64
import hashlib
import re

import pytest

from keycloak_pwreset.secret_token import (
    MAX_TOKEN_LENGTH,
    TOKEN_BYTES,
    hash_token,
    looks_like_token,
    make_token,
)

URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_token_carries_256_bits() -> None:
    token = make_token()
    assert TOKEN_BYTES * 8 == 256
    # URL-safe base64 without padding: 32 bytes -> 43 characters.
    assert len(token) == 43
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) == 32


def test_tokens_are_url_safe_and_unique() -> None:
    tokens = {make_token() for _ in range(500)}
    assert len(tokens) == 500
    for token in tokens:
        assert URL_SAFE.match(token), token
        assert looks_like_token(token)


def test_tokens_use_the_whole_alphabet() -> None:
    # A weak generator (hex, digits only, a constant prefix) would show here.
    seen = set("".join(make_token() for _ in range(200)))
    assert len(seen) >= 60
    first_chars = {make_token()[0] for _ in range(200)}
    assert len(first_chars) > 20


def test_hash_is_sha256_hex_of_the_token() -> None:
    token = make_token()
    digest = hash_token(token)
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest != token
    assert token not in digest


def test_hash_is_deterministic_and_distinguishes_tokens() -> None:
    token = make_token()
    assert hash_token(token) == hash_token(token)
    assert hash_token(token) != hash_token(make_token())
    assert hash_token(token) != hash_token(token[:-1])


@pytest.mark.parametrize(
    "value",
    [
        "",
        "short",
        "a" * 19,
        "a" * (MAX_TOKEN_LENGTH + 1),
        "x" * 10_000,
        "a" * 30 + " ",
        "a" * 30 + "=",
        "a" * 30 + "/",
        "a" * 30 + "+",
        "a" * 30 + "\n",
        "a" * 30 + "\r\nSet-Cookie: x=1",
        "a" * 30 + "\x00",
        "a" * 30 + "é",
        "a" * 30 + "\uff41",  # fullwidth 'a': alnum, but not ASCII
        "a" * 30 + "٣",  # Arabic-Indic digit: isalnum() but not ASCII
        "'; DROP TABLE recovery_tokens; --aaaaaaa",
        "../../../../etc/passwd/aaaaaaa",
    ],
)
def test_looks_like_token_rejects_junk(value: str) -> None:
    assert not looks_like_token(value)


@pytest.mark.parametrize("value", ["a" * 20, "A-_9" * 5, "z" * MAX_TOKEN_LENGTH])
def test_looks_like_token_accepts_the_token_shape(value: str) -> None:
    assert looks_like_token(value)

"""The secret in an emailed link: make one, and derive what the store keeps of it.

A token is 256 bits from ``secrets`` in URL-safe base64. Only its SHA-256 hash
is stored: a leaked database then holds nothing that opens an account. A plain
hash is enough (no salt, no slow KDF) because the input is uniformly random
and far too large to guess; a slow hash would only slow every lookup down.
"""

import hashlib
import secrets

TOKEN_BYTES = 32
# base64 of 32 bytes is 43 characters; anything much longer is not ours.
MAX_TOKEN_LENGTH = 64


def make_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(value: str) -> bool:
    """Cheap shape check so that junk never reaches the database."""
    return 20 <= len(value) <= MAX_TOKEN_LENGTH and all(
        ch.isascii() and (ch.isalnum() or ch in "-_") for ch in value
    )

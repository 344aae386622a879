"""Who is asking: the client address, trusting X-Forwarded-For only from configured proxies."""

from __future__ import annotations

from starlette.requests import Request


def client_address(request: Request, trusted_proxies: frozenset[str]) -> str:
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer  # a header from anyone else is just a claim
    forwarded = request.headers.get("x-forwarded-for", "")
    # The right-most address not of our own proxies is the one that reached them.
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if hop not in trusted_proxies:
            return hop[:64]
    return peer


def determined_client(request: Request) -> str:
    """The client address the rate limiter determined for this request (web/limits.py)."""
    return str(getattr(request.state, "client_address", "") or "unknown")

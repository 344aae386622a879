"""Who is asking: the client address, trusting X-Forwarded-For only from configured proxies.

Limits and fairness key on the client's *network*, not its address: an IPv6 host is
normally given a whole /64, so keying on the full address would give one person
2**64 clients. An IPv4 address (or an IPv4-mapped IPv6 one) stays as it is.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request

MAX_KEY_LENGTH = 64  # what the store keeps of a client (outbox.client, sent_emails.network)
IPV6_NETWORK_BITS = 64


@lru_cache(maxsize=4096)  # parsed once per address seen lately, not once per request
def network_key(address: str) -> str:
    """``192.0.2.7`` → itself; ``2001:db8:1:2:aaaa::1`` → ``2001:db8:1:2::/64``.

    Anything that is not an IP address (a test client's name, a proxy's junk) is kept
    as it is, cut to what the store can hold.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:MAX_KEY_LENGTH]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.7 is the IPv4 client 192.0.2.7
            return str(ip.ipv4_mapped)
        # From the integer: a zone id ("%eth0") is no part of the network.
        return str(ipaddress.IPv6Network((int(ip), IPV6_NETWORK_BITS), strict=False))
    return str(ip)


def client_address(request: Request, trusted_proxies: frozenset[str]) -> str:
    peer = request.client.host if request.client else "unknown"
    if peer not in trusted_proxies:
        return peer  # a header from anyone else is just a claim
    forwarded = request.headers.get("x-forwarded-for", "")
    # The right-most address not of our own proxies is the one that reached them.
    for hop in reversed([without_port(h.strip()) for h in forwarded.split(",") if h.strip()]):
        if hop not in trusted_proxies:
            return hop[:MAX_KEY_LENGTH]
    return peer


def without_port(hop: str) -> str:
    """``192.0.2.7:5678`` → ``192.0.2.7``, ``[2001:db8::1]:443`` → ``2001:db8::1``.

    Some proxies append the client's port; with it, every connection of one client
    would be a client of its own.
    """
    if hop.startswith("[") and "]" in hop:
        return hop[1:].partition("]")[0]
    host, colon, port = hop.partition(":")
    return host if colon and port.isdigit() and ":" not in port else hop


def determined_client(request: Request) -> str:
    """The client's network key, as the rate limiter determined it (web/limits.py).

    What limits and flows count by; the same value for every address of one IPv6 /64.
    """
    return str(getattr(request.state, "client_network", "") or "unknown")


def determined_address(request: Request) -> str:
    """The client's own address (trusted proxies honoured), for audit lines and the CAPTCHA."""
    return str(getattr(request.state, "client_address", "") or "unknown")

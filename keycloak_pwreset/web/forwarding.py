"""Noticing X-Forwarded-For from peers that are not trusted proxies.

Such a header is ignored (web/client.py), which is right for a client that sets
it itself, and wrong for a reverse proxy missing from KCPR_TRUSTED_PROXIES: then
every visitor arrives from the proxy's address and all share one rate limit. The
service cannot tell the two apart, so it says so: a warning in the log, and a row
in the store that `keycloak-pwreset check` reports with the fix.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from keycloak_pwreset.store.forwarding import ForwardingPeers

log = logging.getLogger(__name__)

# Each peer is noted once per process; past this many, nothing more is noted, so
# that a client cycling through addresses cannot grow the set (or the table) at will.
MAX_PEERS = 256


class UntrustedForwarders:
    def __init__(self, peers: ForwardingPeers, trusted_proxies: frozenset[str]) -> None:
        self._peers = peers
        self._trusted = trusted_proxies
        self._seen: set[str] = set()

    async def observe(self, request: Request) -> None:
        """Note the peer of ``request`` if it forwards for others without being trusted."""
        peer = request.client.host if request.client else ""
        if (
            not peer
            or peer in self._trusted
            or peer in self._seen
            or len(self._seen) >= MAX_PEERS
            or "x-forwarded-for" not in request.headers
        ):
            return
        # Marked before the write, so that concurrent requests from the peer write once.
        self._seen.add(peer)
        log.warning(
            "X-Forwarded-For from %s, which is not in KCPR_TRUSTED_PROXIES: the header is "
            "ignored. If %s is your reverse proxy, add it there, or every visitor shares "
            "its rate limit",
            peer,
            peer,
        )
        try:
            # Once per peer and process; still a database write: off the event loop.
            await asyncio.to_thread(self._peers.note, peer)
        except SQLAlchemyError as exc:
            log.warning("could not record the forwarding peer %s: %s", peer, exc)

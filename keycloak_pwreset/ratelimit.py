"""Limits per client address: every POST, and every use of a link's token.

Keyed by the client's network only (its IPv4 address, or its IPv6 /64: see
web/client.py), never by the account asked about, so the answer (429 with
Retry-After) is the same for known and unknown accounts.

Storage: the `limits` library's in-memory moving window. That is per process:
with several instances behind a balancer each enforces its own share, which
still bounds a client to N times the limit. A shared store (the database)
would make every POST also a write for accounting; at the traffic a reset
service sees, the per-process bound is the better trade, and the per-account
email cooldown, which matters most, is enforced in the shared database.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from keycloak_pwreset.settings import LimitSettings


class ClientLimiter:
    def __init__(self, settings: LimitSettings) -> None:
        self.enabled = settings.enabled
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rates: dict[str, RateLimitItem] = {
            "request": parse(settings.requests_per_client),
            "token": parse(settings.token_attempts_per_client),
        }

    def hit(self, kind: str, client: str) -> int | None:
        """Count one ``kind`` of attempt; seconds to wait if over the limit, else None."""
        if not self.enabled:
            return None
        rate = self._rates[kind]
        if self._limiter.hit(rate, kind, client):
            return None
        reset_at = self._limiter.get_window_stats(rate, kind, client).reset_time
        return max(1, math.ceil(reset_at - time.time()))

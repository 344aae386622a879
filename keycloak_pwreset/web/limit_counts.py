"""Where the per-client request counts live: this process's memory, or Redis for every instance.

The `limits` library's moving window, in its own storages: in memory by default
(``KCPR_LIMITS__STORAGE_URI=memory://``: each process counts alone, so N
instances allow a client N times the limit), or in Redis
(``redis://host:6379/0``), where every instance counts against the same window
and a client alternating between instances meets the limit at the same count
as against one. Redis is reached through redis-py's asyncio client, so a slow
Redis never blocks the event loop.

When Redis cannot be reached, the gates neither open nor close: the counts
fall back to this process's memory (the per-process bound, as without Redis)
for FALLBACK_SECONDS, with one warning, and Redis is tried again after that.
The service keeps answering; its limits are only looser for the outage.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter as SharedLimiter
from limits.errors import ConfigurationError, StorageError
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from keycloak_pwreset.audit import audit
from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.settings import LimitSettings

log = logging.getLogger(__name__)

FALLBACK_SECONDS = 5.0
# A Redis that does not answer within this is as good as down: a POST must not wait on it.
REDIS_TIMEOUT_SECONDS = 0.5


class ClientLimiter:
    def __init__(self, settings: LimitSettings) -> None:
        self.enabled = settings.enabled
        self._rates: dict[str, RateLimitItem] = {
            "request": parse(settings.requests_per_client),
            "token": parse(settings.token_attempts_per_client),
        }
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: SharedLimiter | None = None
        if settings.storage_uri != "memory://":
            self._shared = SharedLimiter(_redis(settings.storage_uri))
        self._shared_down_until = 0.0

    @property
    def shared(self) -> bool:
        """Counting in the shared store right now (False without one, or during an outage)."""
        return self._shared is not None and time.monotonic() >= self._shared_down_until

    async def hit(self, kind: str, client: str) -> int | None:
        """Count one ``kind`` of attempt; seconds to wait if over the limit, else None."""
        if not self.enabled:
            return None
        rate = self._rates[kind]
        if self._shared is not None and self.shared:
            try:
                if await self._shared.hit(rate, kind, client):
                    return None
                stats = await self._shared.get_window_stats(rate, kind, client)
                return _seconds_until(stats.reset_time)
            except StorageError as exc:
                self._fall_back(exc)
        if self._local.hit(rate, kind, client):
            return None
        return _seconds_until(self._local.get_window_stats(rate, kind, client).reset_time)

    def _fall_back(self, exc: StorageError) -> None:
        self._shared_down_until = time.monotonic() + FALLBACK_SECONDS
        reason = type(exc.storage_error).__name__
        log.warning(
            "the rate-limit store (Redis) is unreachable (%s): counting in this process "
            "for %.0f s, then trying it again",
            reason,
            FALLBACK_SECONDS,
        )
        audit("rate_limit_store_unreachable", reason=reason)


def probe_store(settings: LimitSettings) -> str | None:
    """For `check`: None if the limits' Redis answers (or none is configured), else why not."""
    if settings.storage_uri == "memory://":
        return None
    storage = _redis(settings.storage_uri)
    where = urlsplit(settings.storage_uri)
    try:
        answered = _run_apart(storage.check)
    except Exception as exc:  # the client's own errors, whatever they are, mean "no"
        answered, reason = False, type(exc).__name__
    else:
        reason = "no answer to PING"
    if answered:
        return None
    at = f"{where.hostname}:{where.port}"
    return f"KCPR_LIMITS__STORAGE_URI: cannot reach Redis at {at} ({reason})"


def _run_apart(check: Callable[[], Coroutine[Any, Any, bool]]) -> bool:
    """Run a coroutine to its end in a thread of its own (a caller may have a loop running)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, check()).result()


def _redis(uri: str) -> RedisStorage:
    try:
        return RedisStorage(
            "async+" + uri,
            implementation="redispy",
            wrap_exceptions=True,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
    except ConfigurationError:  # redis-py is not installed
        raise ConfigError(
            "KCPR_LIMITS__STORAGE_URI names Redis, which needs its client: "
            "pip install 'keycloak-pwreset[redis]'"
        ) from None


def _seconds_until(reset_at: float) -> int:
    return max(1, math.ceil(reset_at - time.time()))

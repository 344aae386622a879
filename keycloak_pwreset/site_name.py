"""The site's name as people know it: in emails, subjects and pages.

KCPR_SITE_NAME when set; else the realm's display name from Keycloak (what its own
login pages show), re-read every few minutes; else the realm's technical name, also
while Keycloak cannot be asked. "Your Acme Staff Portal account", not "your acme-prod
account".

Two ways to ask: ``site()`` reads Keycloak when the name is stale (the worker's
threads, writing an email); ``site.now()`` never waits (the pages, on the event loop):
it answers what is known and refreshes in the background.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable

REFRESH_SECONDS = 300.0


class SiteName:
    def __init__(
        self,
        realm: str,
        override: str | None = None,
        display_name: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._realm = realm
        self._override = (override or "").strip()
        self._display_name = display_name
        self._clock = clock
        self._lock = threading.Lock()
        self._known: tuple[float, str] | None = None
        self._refreshing = False

    def __call__(self) -> str:
        """The name, read from Keycloak first if it is stale (blocks: not on the event loop)."""
        if self._override or self._display_name is None:
            return self._override or self._realm
        if self._stale():
            self._refresh()
        return self._name()

    def now(self) -> str:
        """The name known now, never waiting; a stale one is refreshed in the background."""
        if self._override or self._display_name is None:
            return self._override or self._realm
        with self._lock:
            start = self._stale() and not self._refreshing
            self._refreshing = self._refreshing or start
        if start:
            threading.Thread(target=self._refresh, name="site-name", daemon=True).start()
        return self._name()

    def _stale(self) -> bool:
        known = self._known
        return known is None or self._clock() - known[0] >= REFRESH_SECONDS

    def _name(self) -> str:
        known = self._known
        return (known[1] if known else "") or self._realm

    def _refresh(self) -> None:
        assert self._display_name is not None
        try:
            name = " ".join(self._display_name().split())  # one line: it goes into subjects
        except (KeycloakUnavailable, KeycloakRejected):
            name = self._known[1] if self._known else ""
        with self._lock:
            self._known = (self._clock(), name)
            self._refreshing = False

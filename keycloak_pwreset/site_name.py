"""The site's name as people know it: in emails, subjects and pages.

KCPR_SITE_NAME when set; else the realm's display name from Keycloak (what its own
login pages show), re-read every few minutes; else the realm's technical name, also
while Keycloak cannot be asked. "Your Acme Staff Portal account", not "your acme-prod
account".
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

    def __call__(self) -> str:
        if self._override:
            return self._override
        if self._display_name is None:
            return self._realm
        with self._lock:
            now = self._clock()
            if self._known is None or now - self._known[0] >= REFRESH_SECONDS:
                try:
                    name = " ".join(self._display_name().split())  # one line: subjects
                except (KeycloakUnavailable, KeycloakRejected):
                    name = self._known[1] if self._known else ""
                self._known = (now, name)
            return self._known[1] or self._realm

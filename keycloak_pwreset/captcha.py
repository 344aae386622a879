"""The optional CAPTCHA on the request forms: a small interface and one real implementation.

A CAPTCHA is off by default: the honeypot field stops the common form-filling bots without
sending visitors' data to a third party. A site that is targeted anyway sets
``KCPR_CAPTCHA__PROVIDER`` and its keys.

The shipped implementation speaks the "siteverify" protocol that Cloudflare Turnstile,
hCaptcha and Google reCAPTCHA (v2) share: the widget in the page puts a one-time response in
the form, and the service POSTs it with its secret to the provider, which answers
``{"success": true|false, "hostname": …}``. The three differ only in addresses and names
(``PROVIDERS``). Another verifier plugs in through the ``keycloak_pwreset.captcha`` entry
point group: a callable taking ``CaptchaSettings`` and the public URL, returning a
``CaptchaVerifier``.

Failures close: a provider that cannot be reached, or answers nonsense, means "not verified".
The request forms then ask the person to try again; they never fall back to no check,
which an attacker could provoke. A redirect is such nonsense too: siteverify answers
directly, and following one would send the secret wherever the redirect points.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Protocol
from urllib.parse import urlencode, urlsplit

import requests

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.settings import CaptchaSettings

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "keycloak_pwreset.captcha"
VERIFY_TIMEOUT = 5.0
MAX_RESPONSE_LENGTH = 4096  # Turnstile documents 2048; anything longer is not a response


@dataclass(frozen=True)
class Widget:
    """What a form page needs to show the check (see themes/pages/_captcha.html)."""

    script_url: str  # loaded by the page; ``hl`` is added for the page's language
    css_class: str  # the element the script turns into the widget
    site_key: str
    # CSP sources the page must allow scripts, frames, styles and calls from.
    csp_sources: tuple[str, ...]

    def script_for(self, locale: str) -> str:
        return f"{self.script_url}?{urlencode({'hl': locale})}" if locale else self.script_url


class CaptchaVerifier(Protocol):
    """A bot check: the form field it reads, the widget it shows, and its verdict."""

    field: str

    def widget(self) -> Widget | None: ...

    def verify(self, response: str, client_address: str) -> bool: ...


@dataclass(frozen=True)
class Provider:
    verify_url: str
    script_url: str
    css_class: str
    field: str
    csp_sources: tuple[str, ...]  # as each provider's documentation lists them


PROVIDERS: dict[str, Provider] = {
    "turnstile": Provider(
        verify_url="https://challenges.cloudflare.com/turnstile/v0/siteverify",
        script_url="https://challenges.cloudflare.com/turnstile/v0/api.js",
        css_class="cf-turnstile",
        field="cf-turnstile-response",
        csp_sources=("https://challenges.cloudflare.com",),
    ),
    "hcaptcha": Provider(
        verify_url="https://api.hcaptcha.com/siteverify",
        script_url="https://js.hcaptcha.com/1/api.js",
        css_class="h-captcha",
        field="h-captcha-response",
        csp_sources=("https://hcaptcha.com", "https://*.hcaptcha.com"),
    ),
    "recaptcha": Provider(
        verify_url="https://www.google.com/recaptcha/api/siteverify",
        script_url="https://www.google.com/recaptcha/api.js",
        css_class="g-recaptcha",
        field="g-recaptcha-response",
        csp_sources=(
            "https://www.google.com/recaptcha/",
            "https://www.gstatic.com/recaptcha/",
            "https://recaptcha.google.com/recaptcha/",
        ),
    ),
}


class SiteVerifyCaptcha:
    """Turnstile, hCaptcha or reCAPTCHA v2, verified server-side over their siteverify API."""

    def __init__(
        self,
        provider: Provider,
        *,
        site_key: str,
        secret: str,
        expected_hostname: str,
        verify_url: str | None = None,
        http: requests.Session | None = None,
    ) -> None:
        self.provider = provider
        self.field = provider.field
        self.site_key = site_key
        self._secret = secret
        self._hostname = expected_hostname
        self._verify_url = verify_url or provider.verify_url
        self._http = http or requests.Session()

    def widget(self) -> Widget:
        p = self.provider
        return Widget(p.script_url, p.css_class, self.site_key, p.csp_sources)

    def _ask(self, data: dict[str, str]) -> object:
        """The provider's JSON verdict; raises for no answer, a redirect, an error or non-JSON."""
        answer = self._http.post(
            self._verify_url, data=data, timeout=VERIFY_TIMEOUT, allow_redirects=False
        )
        if answer.is_redirect or answer.status_code >= 300:
            # raise_for_status() lets a 3xx through; for siteverify it is a failure.
            raise requests.HTTPError(
                f"HTTP {answer.status_code} from {self._verify_url} (redirects are not followed)",
                response=answer,
            )
        return answer.json()

    def probe(self) -> str | None:
        """For `check`: ask the provider about a dummy response; a problem line, or None.

        The providers answer a wrong secret with the error code
        ``invalid-input-secret``, so this proves the address and the secret without a
        person solving anything.
        """
        data = {"secret": self._secret, "response": "keycloak-pwreset-check"}
        try:
            verdict = self._ask(data)
        except (requests.RequestException, ValueError) as exc:
            return f"cannot reach {self._verify_url}: {exc}"
        codes = verdict.get("error-codes", []) if isinstance(verdict, dict) else []
        if "invalid-input-secret" in codes or "missing-input-secret" in codes:
            return "the provider refuses KCPR_CAPTCHA__SECRET_KEY"
        return None

    def verify(self, response: str, client_address: str) -> bool:
        if not response or len(response) > MAX_RESPONSE_LENGTH:
            return False
        data = {"secret": self._secret, "response": response}
        if client_address and client_address != "unknown":
            data["remoteip"] = client_address
        try:
            verdict = self._ask(data)
        except (requests.RequestException, ValueError) as exc:
            # The secret travels in the body, never in the URL: safe to log the error.
            log.warning("CAPTCHA provider unreachable, treating as not verified: %s", exc)
            return False
        if not isinstance(verdict, dict) or verdict.get("success") is not True:
            return False
        # A response solved on another site that shares the site key (or a test key)
        # must not count here: the providers report where it was solved. An answer
        # that does not say where cannot prove it was here: refused as well.
        hostname = verdict.get("hostname")
        if self._hostname and hostname != self._hostname:
            log.warning("CAPTCHA solved on %r, not on %r: refused", hostname, self._hostname)
            return False
        return True


def build_verifier(settings: CaptchaSettings, public_url: str) -> CaptchaVerifier | None:
    """The configured verifier, or None when the CAPTCHA is off (the default)."""
    name = settings.provider
    if name == "none":
        return None
    if name in PROVIDERS:
        hostname = urlsplit(public_url).hostname or ""
        return SiteVerifyCaptcha(
            PROVIDERS[name],
            site_key=settings.site_key,
            secret=settings.secret_key.get_secret_value(),
            expected_hostname=hostname if settings.check_hostname else "",
            verify_url=settings.verify_url,
        )
    plugins = {e.name: e for e in entry_points(group=ENTRY_POINT_GROUP)}
    if name not in plugins:
        known = ", ".join(["none", *PROVIDERS, *sorted(plugins)])
        raise ConfigError(f"KCPR_CAPTCHA__PROVIDER: unknown provider {name!r} (known: {known})")
    factory: Callable[[CaptchaSettings, str], CaptchaVerifier] = plugins[name].load()
    return factory(settings, public_url)

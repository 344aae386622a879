"""The mailer: the only SMTP client. Render a kind, build the message, send it via its route."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import idna

from keycloak_pwreset.errors import MailDeliveryError, MailRejected
from keycloak_pwreset.mail.message import build_message
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.mail.routing import MailRouting
from keycloak_pwreset.mail.transport import SmtpTransport, Transport
from keycloak_pwreset.metrics import Metrics

log = logging.getLogger(__name__)


class Mailer:
    def __init__(
        self,
        renderer: EmailRenderer,
        transports: Mapping[str, Transport],
        routing: MailRouting,
        metrics: Metrics | None = None,
    ) -> None:
        self.renderer = renderer
        self.transports = transports
        self.routing = routing
        self.metrics = metrics or Metrics()

    def send(
        self, *, kind: str, to: str, to_name: str, context: dict[str, Any], locale: str = ""
    ) -> None:
        route = self.routing.route(kind, locale)
        transport = self.transports.get(route.profile)
        if transport is None:
            raise MailDeliveryError(f"no SMTP profile named {route.profile!r}")
        to = deliverable(to)
        rendered = self.renderer.render(kind, context, locale)
        message = build_message(rendered, to=to, to_name=to_name, sender=route.sender)
        if locale:
            message["Content-Language"] = locale
        transport.send(message, envelope_from=route.sender.envelope, to=to)
        self.metrics.email_sent(kind, route.profile)
        # The body (with its link and token) is never logged.
        log.info("sent %s email (%s) via %s", kind, locale or "default", route.profile)

    def close(self) -> None:
        """Close the SMTP connections kept open for reuse (after the worker has stopped)."""
        for transport in self.transports.values():
            if isinstance(transport, SmtpTransport):
                transport.close()


def deliverable(address: str) -> str:
    """The address with its domain in ASCII (IDNA), which any SMTP server delivers to.

    Addresses typed into our forms are already ASCII (validation.normalize_email);
    one from Keycloak may not be. A non-ASCII local part needs SMTPUTF8 end to
    end, which this service does not rely on: refused for good, not retried.
    """
    local, _, domain = address.rpartition("@")
    if address.isascii():
        return address
    if not local.isascii():
        raise MailRejected("the address has a non-ASCII local part (needs SMTPUTF8)")
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        raise MailRejected("the address has a domain that cannot be written in ASCII") from None

"""The mailer: the only SMTP client. Render a kind, build the message, hand it to a transport."""

from __future__ import annotations

import logging
from typing import Any

from keycloak_pwreset.mail.message import Sender, build_message
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.mail.transport import Transport

log = logging.getLogger(__name__)


class Mailer:
    def __init__(self, renderer: EmailRenderer, transport: Transport, sender: Sender) -> None:
        self.renderer = renderer
        self.transport = transport
        self.sender = sender

    def send(self, kind: str, *, to: str, to_name: str, context: dict[str, Any]) -> None:
        rendered = self.renderer.render(kind, context)
        message = build_message(rendered, to=to, to_name=to_name, sender=self.sender)
        self.transport.send(message, envelope_from=self.sender.envelope, to=to)
        # The recipient is logged for the audit trail; the body (with its
        # link and token) never is.
        log.info("sent %s email", kind, extra={"kind": kind})

"""Delivery backends: real SMTP, the console (development) and memory (tests)."""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from keycloak_pwreset.errors import MailDeliveryError
from keycloak_pwreset.settings import SmtpSecurity, SmtpSettings

log = logging.getLogger(__name__)


class Transport(Protocol):
    def send(self, message: EmailMessage, *, envelope_from: str, to: str) -> None: ...


class SmtpTransport:
    """One SMTP connection per message: simple, and robust to servers that drop idle ones."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.security is SmtpSecurity.SSL:
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
        client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        if s.security is SmtpSecurity.STARTTLS:
            try:
                client.starttls(context=context)
            except (OSError, smtplib.SMTPException):
                client.close()
                raise
        return client

    def open(self) -> smtplib.SMTP:
        """Connect and log in (used by `check` to prove the settings work)."""
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            raise MailDeliveryError(f"cannot reach the SMTP server at {where}: {exc}") from None
        if s.username:
            password = s.password.get_secret_value() if s.password else ""
            try:
                client.login(s.username, password)
            except (OSError, smtplib.SMTPException) as exc:
                client.close()
                raise MailDeliveryError(
                    f"the SMTP server at {where} refused the login of {s.username!r}: {exc}"
                ) from None
        return client

    def send(self, message: EmailMessage, *, envelope_from: str, to: str) -> None:
        client = self.open()
        try:
            client.send_message(message, from_addr=envelope_from, to_addrs=[to])
        except (OSError, smtplib.SMTPException) as exc:
            raise MailDeliveryError(f"the SMTP server did not accept the message: {exc}") from None
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()


class ConsoleTransport:
    """Prints messages instead of sending them: for trying the service without SMTP."""

    def send(self, message: EmailMessage, *, envelope_from: str, to: str) -> None:
        print(f"--- email (MAIL FROM {envelope_from}, RCPT TO {to}) ---")
        print(message.as_string())


@dataclass(frozen=True)
class SentMail:
    message: EmailMessage
    envelope_from: str
    to: str


class MemoryTransport:
    """Keeps messages in a list; can be told to fail, to test retries."""

    def __init__(self) -> None:
        self.sent: list[SentMail] = []
        self.failing = False
        self._lock = threading.Lock()

    def send(self, message: EmailMessage, *, envelope_from: str, to: str) -> None:
        if self.failing:
            raise MailDeliveryError("memory transport told to fail")
        with self._lock:
            self.sent.append(SentMail(message, envelope_from, to))

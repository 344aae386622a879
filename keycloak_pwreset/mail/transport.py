"""Delivery over SMTP: the only transport the product ships (tests bring their own)."""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from typing import Protocol

from keycloak_pwreset.errors import MailDeliveryError, MailRejected
from keycloak_pwreset.settings import SmtpSecurity, SmtpSettings


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
        except smtplib.SMTPNotSupportedError:
            # smtplib raises it before sending, for an address that needs SMTPUTF8
            # (a non-ASCII local part or domain) on a server that lacks it.
            raise MailRejected(
                "the SMTP server does not support SMTPUTF8, which this address needs"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            code, detail = _refusal(exc)
            error = MailRejected if _permanent(exc, code) else MailDeliveryError
            raise error(f"the SMTP server did not accept the message: {detail}") from None
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()


# Codes that ask for a login (RFC 4954): our configuration is missing or
# wrong, not this message; it can be sent once an operator fixes it.
_AUTH_CODES = frozenset({530, 534, 535, 538})
_ENHANCED_STATUS = re.compile(rb"[245]\.\d{1,3}\.\d{1,3}")


def _refusal(exc: OSError | smtplib.SMTPException) -> tuple[int, str]:
    """The SMTP reply code of an error, and a one-line description without any address.

    A server's reply text often repeats the address ("<bob@…>: no such user"),
    so for a refusal only the step, the code and the enhanced status code are
    kept; they are what an operator needs to look the refusal up.
    """
    text: bytes | str
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # One recipient per message, so one answer.
        code, text = next(iter(exc.recipients.values()), (0, b""))
        step = "recipient refused"
    elif isinstance(exc, smtplib.SMTPSenderRefused):
        code, text, step = exc.smtp_code, exc.smtp_error, "sender refused"
    elif isinstance(exc, smtplib.SMTPDataError):
        code, text, step = exc.smtp_code, exc.smtp_error, "message refused"
    else:
        return 0, str(exc)
    reply = text if isinstance(text, bytes) else str(text).encode()
    status = _ENHANCED_STATUS.search(reply)
    extended = f" {status.group().decode()}" if status else ""
    return code, f"{step} ({code}{extended})"


def _permanent(exc: OSError | smtplib.SMTPException, code: int) -> bool:
    """5xx means the same command will fail again (RFC 5321 4.2.1); 4xx may pass later."""
    if not 500 <= code <= 599:
        return False
    return not (isinstance(exc, smtplib.SMTPSenderRefused) and code in _AUTH_CODES)

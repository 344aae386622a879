"""Delivery over SMTP: the only transport the product ships (tests bring their own)."""

from __future__ import annotations

import re
import smtplib
import ssl
import threading
import time
from email.message import EmailMessage
from typing import Any, Protocol

from keycloak_pwreset.errors import MailDeliveryError, MailRejected
from keycloak_pwreset.settings import SmtpSecurity, SmtpSettings

# Idle connections kept per SMTP profile: about one per worker thread.
POOL_SIZE = 32
# An idle connection older than this is closed rather than reused: servers drop
# idle clients after a while (RFC 5321 suggests 5 minutes; many use less).
IDLE_SECONDS = 30.0


class Transport(Protocol):
    def send(self, message: EmailMessage, *, envelope_from: str, to: str) -> None: ...


class _Connection:
    """An SMTP client that notes whether DATA was started on it: until then nothing can
    have been delivered, so a message whose connection was lost may be sent again."""

    def __init__(self, client: smtplib.SMTP) -> None:
        self.client = client
        self.data_started = False
        self.since = time.monotonic()
        send_data = client.data

        def data(msg: Any) -> tuple[int, bytes]:
            self.data_started = True
            return send_data(msg)

        setattr(client, "data", data)  # noqa: B010 - an instance's own wrapper


class SmtpTransport:
    """SMTP with its connections reused: a small, thread-safe pool per profile.

    A connection goes back to the pool after a message it delivered, and is
    closed after any error. One the server dropped while idle fails at its
    first command, before DATA: the message is then sent once more on a fresh
    connection (nothing was delivered, so nothing is duplicated). A connection
    lost during DATA is not resent here: the job's retry does it (at least once).
    """

    def __init__(self, settings: SmtpSettings, *, pool_size: int = POOL_SIZE) -> None:
        self.settings = settings
        self._pool_size = pool_size
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._context: ssl.SSLContext | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security is SmtpSecurity.NONE:
            return smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        # Made once: loading the CA bundle cost more CPU than the rest of a job.
        self._context = context = self._context or ssl.create_default_context()
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
        conn = self._take()
        reused = conn is not None
        conn = conn or _Connection(self.open())
        try:
            try:
                _deliver(conn.client, message, envelope_from, to)
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                if not reused or conn.data_started:
                    raise
                _quit(conn.client)  # dropped while idle: once more, on a fresh connection
                conn = _Connection(self.open())
                _deliver(conn.client, message, envelope_from, to)
        except smtplib.SMTPNotSupportedError:
            _quit(conn.client)
            # smtplib raises it before sending, for an address that needs SMTPUTF8
            # (a non-ASCII local part or domain) on a server that lacks it.
            raise MailRejected(
                "the SMTP server does not support SMTPUTF8, which this address needs"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            _quit(conn.client)
            code, detail = _refusal(exc)
            error = MailRejected if _permanent(exc, code) else MailDeliveryError
            raise error(f"the SMTP server did not accept the message: {detail}") from None
        self._give(conn)

    def _take(self) -> _Connection | None:
        """An idle connection young enough to reuse, or None."""
        stale: list[_Connection] = []
        found: _Connection | None = None
        with self._lock:
            while self._idle and found is None:
                conn = self._idle.pop()
                if time.monotonic() - conn.since < IDLE_SECONDS:
                    found = conn
                else:
                    stale.append(conn)
        for conn in stale:
            _quit(conn.client)
        return found

    def _give(self, conn: _Connection) -> None:
        conn.data_started = False
        conn.since = time.monotonic()
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        _quit(conn.client)

    def close(self) -> None:
        """Close the idle connections; one still in use closes when its message is sent."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            _quit(conn.client)


def _deliver(client: smtplib.SMTP, message: EmailMessage, envelope_from: str, to: str) -> None:
    client.send_message(message, from_addr=envelope_from, to_addrs=[to])


def _quit(client: smtplib.SMTP) -> None:
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

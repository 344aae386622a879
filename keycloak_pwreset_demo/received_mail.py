"""One message as the SMTP sink received it: envelope and raw bytes, parsed on demand."""

import email
import email.policy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path


@dataclass(frozen=True)
class ReceivedMail:
    """The SMTP envelope (who the server was told it is from and to) plus the message bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    path: Path | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the modern ``email.policy.default`` (decoded headers)."""
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def header(self, name: str) -> str:
        """A header's decoded value, or "" if absent."""
        return str(self.message.get(name, ""))

    def text_body(self) -> str:
        """The decoded text/plain part ("" if none)."""
        return self._body("plain")

    def html_body(self) -> str:
        """The decoded text/html part ("" if none)."""
        return self._body("html")

    def is_for(self, address: str) -> bool:
        """True if ``address`` is one of the envelope recipients (case-insensitive)."""
        wanted = address.casefold()
        return any(rcpt.casefold() == wanted for rcpt in self.rcpt_tos)

    def _body(self, subtype: str) -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        if part is None:
            return ""
        content = part.get_content()
        return content if isinstance(content, str) else ""

"""Building a multipart text + HTML message with the configured sender identity."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from keycloak_pwreset.mail.render import RenderedEmail, one_line


@dataclass(frozen=True)
class Sender:
    from_address: str
    from_name: str = ""
    reply_to: str | None = None
    envelope_from: str | None = None

    @property
    def envelope(self) -> str:
        return self.envelope_from or self.from_address


def _address(display_name: str, addr_spec: str) -> Address:
    # Address() quotes or RFC 2047-encodes the display name as needed; the
    # name is folded to one line first, so nothing in it can add a header.
    return Address(display_name=one_line(display_name), addr_spec=addr_spec)


def build_message(
    rendered: RenderedEmail, *, to: str, to_name: str, sender: Sender
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = _address(sender.from_name, sender.from_address)
    message["To"] = _address(to_name, to)
    if sender.reply_to:
        message["Reply-To"] = sender.reply_to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.from_address.rpartition("@")[2])
    # Ask auto-responders not to answer a machine-sent message (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message

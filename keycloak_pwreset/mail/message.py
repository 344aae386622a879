"""Building a multipart text + HTML message with the configured sender identity."""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from keycloak_pwreset.mail.render import RenderedEmail, one_line

# Headers are not folded at 78 columns: CPython's folder, when it breaks a line
# before an RFC 2047 encoded word, keeps the space *and* adds the continuation's,
# so "inscription à" arrives as "inscription  à". 998 is RFC 5322's hard limit;
# our headers are single short lines far below it.
MESSAGE_POLICY = email.policy.default.clone(max_line_length=998)


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
    # name is folded to one line first, and any "=?" (the start of an encoded
    # word, which some Python versions decode into a raw CR/LF: CVE-2024-6923)
    # is broken up, so nothing in a name can add a header.
    return Address(display_name=inert(one_line(display_name)), addr_spec=addr_spec)


def inert(text: str) -> str:
    return text.replace("=?", "= ?")


def build_message(
    rendered: RenderedEmail, *, to: str, to_name: str, sender: Sender
) -> EmailMessage:
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["Subject"] = inert(rendered.subject)
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

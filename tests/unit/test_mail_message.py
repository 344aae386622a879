from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from keycloak_pwreset.mail.message import Sender, build_message
from keycloak_pwreset.mail.render import RenderedEmail, one_line

RENDERED = RenderedEmail(
    subject="Reset your password for Example",
    text="Hello Zoë,\n\nhttps://help.example.org/reset-password?token=abc\n",
    html="<p>Hello Zo&euml;,</p><a href='https://help.example.org/x'>link</a>",
)
SENDER = Sender(from_address="help@example.org", from_name="Example Help")

# Every header a message may carry; anything else would have been injected.
ALLOWED_HEADERS = {
    "subject",
    "from",
    "to",
    "reply-to",
    "date",
    "message-id",
    "auto-submitted",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


def round_trip(message: EmailMessage) -> EmailMessage:
    """Serialize as SMTP would, and parse it back as a mail client would."""
    parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_names(message: EmailMessage) -> set[str]:
    return {name.lower() for name in message}


def test_from_shows_display_name_and_alias_address() -> None:
    parsed = round_trip(build_message(RENDERED, to="zoe@example.net", to_name="Zoë", sender=SENDER))
    [sender] = parsed["From"].addresses
    assert sender.display_name == "Example Help"
    assert sender.addr_spec == "help@example.org"
    [recipient] = parsed["To"].addresses
    assert recipient.display_name == "Zoë"
    assert recipient.addr_spec == "zoe@example.net"
    assert parsed["Subject"] == RENDERED.subject


def test_from_without_a_display_name() -> None:
    parsed = round_trip(
        build_message(RENDERED, to="z@example.net", to_name="", sender=Sender("help@example.org"))
    )
    assert str(parsed["From"]) == "help@example.org"
    assert str(parsed["To"]) == "z@example.net"


def test_envelope_defaults_to_from_and_can_be_set() -> None:
    assert SENDER.envelope == "help@example.org"
    bounces = Sender("help@example.org", "Help", envelope_from="bounces@mail.example.org")
    assert bounces.envelope == "bounces@mail.example.org"
    parsed = round_trip(build_message(RENDERED, to="z@example.net", to_name="Z", sender=bounces))
    # The envelope sender is for MAIL FROM only, never a visible header.
    assert parsed["From"].addresses[0].addr_spec == "help@example.org"
    assert "bounces@mail.example.org" not in bytes(parsed).decode()
    assert "return-path" not in header_names(parsed)
    assert "sender" not in header_names(parsed)


def test_reply_to_only_when_configured() -> None:
    without = round_trip(build_message(RENDERED, to="z@example.net", to_name="Z", sender=SENDER))
    assert "reply-to" not in header_names(without)
    with_reply = Sender("help@example.org", "Help", reply_to="support@example.org")
    parsed = round_trip(build_message(RENDERED, to="z@example.net", to_name="Z", sender=with_reply))
    assert [a.addr_spec for a in parsed["Reply-To"].addresses] == ["support@example.org"]


def test_standard_headers() -> None:
    parsed = round_trip(build_message(RENDERED, to="z@example.net", to_name="Z", sender=SENDER))
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["Message-ID"].endswith("@example.org>")
    assert parsed["Date"].datetime is not None
    assert header_names(parsed) <= ALLOWED_HEADERS


def test_message_ids_are_unique() -> None:
    ids = {
        build_message(RENDERED, to="z@example.net", to_name="Z", sender=SENDER)["Message-ID"]
        for _ in range(20)
    }
    assert len(ids) == 20


def test_multipart_alternative_with_text_and_html() -> None:
    parsed = round_trip(build_message(RENDERED, to="z@example.net", to_name="Zoë", sender=SENDER))
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content() == RENDERED.text
    assert parts[1].get_content().rstrip("\n") == RENDERED.html
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and "Zoë" in body.get_content()


HOSTILE_NAMES = [
    "Eve\r\nBcc: victim@example.org",
    "Eve\nBcc: victim@example.org",
    "Eve\rBcc: victim@example.org",
    "Eve\r\n\r\nInjected body",
    "Eve\x00Bcc: victim@example.org",
    'Eve "the hacker" <eve@evil.org>, victim@example.org',
    "Eve <eve@evil.org>",
    "Eve; victim@example.org",
    "=?utf-8?q?Bcc=3A_victim=40example.org?=",
    "Zoë Ångström 李小龍",
    "🙂🔥 Emoji Person 🙂",
    "Eve\u2028Bcc: victim@example.org",
    "x" * 300,
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_names_cannot_inject_headers_or_recipients(name: str) -> None:
    sender = Sender("help@example.org", from_name=name)
    message = build_message(
        # The renderer folds subjects (see test_mail_render); names reach headers here.
        RenderedEmail(subject=f"Hi {one_line(name)}", text="t", html="<p>h</p>"),
        to="zoe@example.net",
        to_name=name,
        sender=sender,
    )
    raw = bytes(message)
    parsed = round_trip(message)
    assert header_names(parsed) <= ALLOWED_HEADERS
    assert "bcc" not in header_names(parsed)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["zoe@example.net"]
    assert [a.addr_spec for a in parsed["From"].addresses] == ["help@example.org"]
    # The headers end at the first blank line: nothing the name did moved it.
    head, body = raw.split(b"\n\n", 1)
    assert b"Injected body" not in body
    # Each header is on its own line (folded lines start with whitespace).
    for line in head.split(b"\n"):
        line = line.rstrip(b"\r")
        assert line[:1] in (b" ", b"\t") or b":" in line, line
    assert "\n" not in parsed["Subject"] and "\r" not in parsed["Subject"]
    if "=?" not in name:  # an encoded word is decoded for display (harmless text)
        # The display names survive intact apart from whitespace folding.
        assert parsed["To"].addresses[0].display_name == one_line(name)
        assert parsed["From"].addresses[0].display_name == one_line(name)


def test_subject_with_unicode_round_trips() -> None:
    rendered = RenderedEmail(subject="Passwort für Zoë 🙂 zurücksetzen", text="t", html="<p/>")
    parsed = round_trip(build_message(rendered, to="z@example.net", to_name="Z", sender=SENDER))
    assert parsed["Subject"] == "Passwort für Zoë 🙂 zurücksetzen"


def test_recipient_address_with_crlf_is_refused() -> None:
    with pytest.raises(ValueError):
        build_message(
            RENDERED, to="z@example.net\r\nBcc: victim@example.org", to_name="Z", sender=SENDER
        )

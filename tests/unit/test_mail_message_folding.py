"""Long non-ASCII subjects survive the trip through SMTP bytes exactly."""

from __future__ import annotations

import email
import email.policy

import pytest

from keycloak_pwreset.mail.message import Sender, build_message
from keycloak_pwreset.mail.render import RenderedEmail

SUBJECTS = [
    "Confirmez votre adresse e-mail pour finaliser votre inscription à it-badb8f",
    "Bestätigen Sie Ihre E-Mail-Adresse, um Ihre Registrierung bei Beispiel abzuschließen",
    "メールアドレスを確認して、Example のアカウント登録を完了してください" * 2,
]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_subject_round_trips_without_extra_spaces(subject: str) -> None:
    message = build_message(
        RenderedEmail(subject, "text", "<p>html</p>"),
        to="a@example.org",
        to_name="Zoë Ö",
        sender=Sender("help@example.org", "Hilfe für Konten"),
    )
    raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == subject
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))

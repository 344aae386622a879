"""The systems the reset-timing bench measures, on loopback: a real Keycloak with a realm whose
own email goes to an SMTP sink, the service over the same realm, and the check afterwards that
both really sent what they should."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reset_timing_samplers import (
    KEYCLOAK,
    KEYCLOAK_FROM,
    LOOPBACK_PREFIX,
    SERVICE_ENVELOPE_FROM,
    Target,
    bench_address,
    log,
    mail_count,
)

from keycloak_pwreset_demo.realm import admin_client
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle, ServiceHandle

MAIL_WAIT_SECONDS = 120.0
# The bench asks for many links for a few accounts from one address, which the
# service's abuse limits would (rightly) refuse or drop: they are raised here, and
# only here. Identical requests that wait in the outbox at the same time are
# still coalesced into one email; the mail check allows for that.
BENCH_LIMITS = {
    "requests_per_client": "100000/minute",
    "token_attempts_per_client": "100000/minute",
    "emails_per_account_per_client_per_hour": 1000,
    "emails_per_account_per_hour": 1000,
}


def configure_keycloak_mail(
    server_url: str, user: str, password: str, realm: str, port: int
) -> str:
    """Point the realm's own email at the sink; return Keycloak's reported version."""
    admin = admin_client(server_url, user, password, realm)
    admin.update_realm(
        realm,
        {
            "smtpServer": {"host": "127.0.0.1", "port": str(port), "from": KEYCLOAK_FROM},
            "resetPasswordAllowed": True,
        },
    )
    info = admin.get_server_info()
    return str(info.get("systemInfo", {}).get("version", "unknown"))


def add_known_users(keycloak: KeycloakHandle, realm: str, count: int) -> list[str]:
    """``count`` accounts whose addresses look like the unknown ones; return the addresses."""
    known = []
    for _ in range(count):
        address = bench_address()
        name = address.split("@", 1)[0]
        password = f"Bench-{secrets.token_hex(6)}-Xy9"
        keycloak.add_user(realm, DemoUser(name, address, password, "Bench", "User"))
        known.append(address)
    return known


@dataclass
class BenchStack:
    """What the bench starts; ``stop()`` stops whatever part of it did start."""

    keycloak: KeycloakHandle | None = None
    sink: SmtpSink | None = None
    service: ServiceHandle | None = None

    def start(self, work: Path, known_users: int) -> tuple[Target, str]:
        """Start everything; return the target of the samples and Keycloak's version."""
        self.keycloak = keycloak = KeycloakHandle.start(work, progress=log)
        server = keycloak.server
        realm_name = f"bench-{secrets.token_hex(3)}"
        realm = keycloak.new_realm(realm_name)
        self.sink = sink = SmtpSink()
        sink.start()
        version = configure_keycloak_mail(
            server.url, server.admin_user, server.admin_password, realm_name, sink.port
        )
        known = add_known_users(keycloak, realm_name, known_users)
        self.service = service = ServiceHandle.start(
            realm, sink, work / "service", limits=BENCH_LIMITS
        )
        for url in (server.url, service.url):
            if not url.startswith(LOOPBACK_PREFIX):
                raise RuntimeError(f"not on loopback: {url}")
        log(f"Keycloak {version} at {server.url}, service at {service.url}, realm {realm_name}")
        return Target(server.url, realm_name, service.url, sink, known), version

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
        if self.sink is not None:
            self.sink.stop()
        if self.keycloak is not None:
            self.keycloak.stop()


def verify_mail(
    target: Target, sink: SmtpSink, systems: list[str], service: ServiceHandle
) -> dict[str, Any]:
    """Prove both systems did the real work: mail for known requests, none for unknown.

    Keycloak: one mail per known request, at the sink when it answers. The service:
    its worker sends after the answer, so wait until the outbox is empty; then every
    known account has mail, never more than one per request (fewer where identical
    requests waited together and were coalesced).
    """
    keycloak_expected = target.sent_known.get(KEYCLOAK, 0)
    service_expected = sum(target.sent_known.get(s, 0) for s in systems if s != KEYCLOAK)
    _wait_for_outbox(service)
    messages = sink.messages
    to_unknown = sum(1 for m in messages if any(r in target.unknown_used for r in m.rcpt_tos))
    per_user = {a: mail_count(sink, KEYCLOAK_FROM, a) for a in target.known}
    result: dict[str, Any] = {
        "keycloak_known_requests": keycloak_expected,
        "keycloak_mails": mail_count(sink, KEYCLOAK_FROM),
        "keycloak_mail_at_sink_when_answered": target.keycloak_mail_at_answer,
        "keycloak_mails_per_known_user": per_user,
        "service_known_requests": service_expected,
        "service_mails": mail_count(sink, SERVICE_ENVELOPE_FROM),
        "mails_to_unknown_addresses": to_unknown,
    }
    result["ok"] = (
        result["keycloak_mails"] == keycloak_expected
        and target.keycloak_mail_at_answer == keycloak_expected
        and 0 < result["service_mails"] <= service_expected
        and all(mail_count(sink, SERVICE_ENVELOPE_FROM, a) for a in target.known)
        and to_unknown == 0
    )
    return result


def _wait_for_outbox(service: ServiceHandle) -> None:
    """Until the service's worker has sent everything (or MAIL_WAIT_SECONDS have passed)."""
    deadline = time.monotonic() + MAIL_WAIT_SECONDS
    while service.services.outbox.pending_count() and time.monotonic() < deadline:
        time.sleep(0.25)
    time.sleep(1.0)  # the last email may still be on the wire

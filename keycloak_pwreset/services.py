"""Wiring: build every part of the service from the settings, in one place."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keycloak_pwreset.captcha import CaptchaVerifier, build_verifier
from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.flows.invite import InviteFlow
from keycloak_pwreset.flows.reset import ResetFlow
from keycloak_pwreset.flows.signup import SignupFlow
from keycloak_pwreset.gateway import Gateway, KeycloakGateway
from keycloak_pwreset.i18n import Languages
from keycloak_pwreset.mail.mailer import Mailer
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.mail.routing import MailRouting
from keycloak_pwreset.mail.transport import SmtpTransport, Transport
from keycloak_pwreset.metrics import Metrics, OutboxGauges
from keycloak_pwreset.password_screening import Screening, words_of
from keycloak_pwreset.paths import themes_dir
from keycloak_pwreset.protected_roles import ProtectedRoles
from keycloak_pwreset.pwned import PwnedRange
from keycloak_pwreset.settings import Settings
from keycloak_pwreset.site_name import SiteName
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.store.link_tokens import TokenStore
from keycloak_pwreset.store.locks import Locks
from keycloak_pwreset.store.outbox import Outbox
from keycloak_pwreset.store.retention import sweep
from keycloak_pwreset.store.sent_emails import SentEmails
from keycloak_pwreset.turns import Turns
from keycloak_pwreset.wake import Wakeable
from keycloak_pwreset.worker import Handler, Worker

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


@dataclass
class Services:
    settings: Settings
    db: Database
    gateway: Gateway
    mailer: Mailer
    outbox: Outbox
    tokens: TokenStore
    reset: ResetFlow
    signup: SignupFlow
    invite: InviteFlow
    worker: Worker
    # The optional bot check of the request forms and API (None: off, the default).
    captcha: CaptchaVerifier | None = None
    # This process's counters (metrics.py), shared by every part built here.
    metrics: Metrics = field(default_factory=Metrics)
    # The site's name in emails and pages (site_name.py).
    site_name: SiteName = field(default_factory=lambda: SiteName(""))
    # What the web layer and the flows wake when they record work: this
    # process's own worker, or `serve`'s worker process (wake.py).
    waker: Wakeable = field(init=False)

    def __post_init__(self) -> None:
        self.waker = self.worker

    def wake_elsewhere(self, waker: Wakeable) -> None:
        """Wake a worker in another process instead of this process's own."""
        self.waker = waker
        for flow in (self.reset, self.signup, self.invite):
            flow.wake_worker = waker.wake

    def scrape_registry(self) -> CollectorRegistry:
        """What a scrape of this service reads: the counters and the outbox's gauges."""
        return self.metrics.scrape_registry(OutboxGauges(self.outbox.depth))

    def close(self) -> None:
        self.worker.stop()
        self.mailer.close()
        self.db.dispose()


def build_services(
    settings: Settings,
    *,
    gateway: Gateway | None = None,
    transport: Transport | None = None,
    db: Database | None = None,
    clock: Clock = utc_now,
    captcha: CaptchaVerifier | None = None,
) -> Services:
    """The production wiring; tests pass fakes for the parts they replace."""
    db = db or open_database(settings.database_url)
    metrics = Metrics()
    gateway = gateway or keycloak_gateway(settings, metrics)
    mailer = build_mailer(settings, transport, metrics)
    outbox, tokens, site = Outbox(db, clock), TokenStore(db, clock), site_name(settings, gateway)
    flows = build_flows(settings, db, clock, gateway, mailer, outbox, tokens, site)
    # Sign-up jobs already queued are still done after sign-up is switched off.
    handlers = {name: h for flow in flows for name, h in flow.handlers().items()}
    worker = build_worker(settings, db, clock, outbox, handlers)
    worker.metrics = metrics
    for flow in flows:
        flow.metrics, flow.wake_worker, flow.turns = metrics, worker.wake, worker.turns
    reset, signup, invite = flows
    captcha = captcha or build_verifier(settings.captcha, settings.public_url)
    return Services(
        settings,
        db,
        gateway,
        mailer,
        outbox,
        tokens,
        reset,
        signup,
        invite,
        worker,
        captcha,
        metrics,
        site,
    )


def site_name(settings: Settings, gateway: Gateway) -> SiteName:
    site = SiteName(settings.realm, settings.site_name, gateway.realm_display_name)
    site.now()  # starts reading the realm's display name, so that the first page has it
    return site


def build_flows(
    settings: Settings,
    db: Database,
    clock: Clock,
    gateway: Gateway,
    mailer: Mailer,
    outbox: Outbox,
    tokens: TokenStore,
    site: Callable[[], str],
) -> tuple[ResetFlow, SignupFlow, InviteFlow]:
    """The reset, sign-up and invitation flows, built on the same parts (flows/base.py's Flow)."""
    common: dict[str, Any] = {
        "tokens": tokens,
        "outbox": outbox,
        "gateway": gateway,
        "mailer": mailer,
        "public_url": settings.public_url,
        "ttl": timedelta(minutes=settings.token_ttl_minutes),
        "site": site,
        "sent": SentEmails(db, clock),
        "languages": Languages(settings.locales, settings.default_locale),
        "emails_per_account_per_client_per_hour": (
            settings.limits.emails_per_account_per_client_per_hour
        ),
        "emails_per_account_per_hour": settings.limits.emails_per_account_per_hour,
        "screening": build_screening(settings),
    }
    reset = ResetFlow(
        **common,
        unknown_account_notice=settings.unknown_account_notice,
        signup_url=f"{settings.public_url}/signup" if settings.signup_enabled else "",
    )
    groups = tuple(settings.signup_default_groups)
    return (
        reset,
        SignupFlow(**common, default_groups=groups),
        InviteFlow(**common, default_groups=groups),
    )


def build_screening(settings: Settings) -> Screening | None:
    """NIST screening of new passwords (KCPR_PASSWORDS__…), with the site's own words."""
    passwords = settings.passwords
    if not passwords.screening:
        return None
    breached = PwnedRange(passwords) if passwords.pwned_check else None
    return Screening(passwords.min_score, words_of(settings.realm), breached)


def build_worker(
    settings: Settings, db: Database, clock: Clock, outbox: Outbox, handlers: Mapping[str, Handler]
) -> Worker:
    """The outbox's worker, which also runs the retention sweep once an hour."""
    locks = Locks(db)
    return Worker(
        outbox,
        handlers,
        poll_seconds=settings.worker_poll_seconds,
        retention=lambda: sweep(db, clock, settings.retention),
        clock=clock,
        concurrency=settings.worker.concurrency,
        # Jobs for one person take turns, in this worker and with other workers.
        turns=Turns(across=lambda owner: locks.held("turn", owner)),
    )


def keycloak_gateway(settings: Settings, metrics: Metrics | None = None) -> KeycloakGateway:
    return KeycloakGateway(
        settings.keycloak_url,
        settings.realm,
        settings.client_id,
        settings.client_secret.get_secret_value(),
        protected=ProtectedRoles.from_settings(
            settings.protected_roles, include_default=settings.protected_roles_default
        ),
        metrics=metrics,
    )


def build_mailer(
    settings: Settings, transport: Transport | None = None, metrics: Metrics | None = None
) -> Mailer:
    """The mailer with one transport per SMTP profile (``transport`` for every one, in tests)."""
    profiles = {"default": settings.smtp, **settings.smtp_profiles}
    transports: dict[str, Transport] = {
        name: transport or SmtpTransport(profile) for name, profile in profiles.items()
    }
    renderer = EmailRenderer(template_dirs(settings, "emails"))
    return Mailer(renderer, transports, MailRouting(settings.mail), metrics)


def template_dirs(settings: Settings, part: str) -> list[Path]:
    """The site's own templates first (KCPR_TEMPLATES_DIR), then the shipped ones."""
    shipped = themes_dir() / part
    if settings.templates_dir is None:
        return [shipped]
    return [settings.templates_dir / part, shipped]

"""`serve` and `worker`."""

from __future__ import annotations

import logging
import signal
import threading

import uvicorn

from keycloak_pwreset.audit import configure_logging
from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.operator.templates_check import template_problems
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.settings import Settings, load_settings
from keycloak_pwreset.web.app import create_app

log = logging.getLogger(__name__)


def start_services(settings: Settings) -> Services:
    """Build everything, refusing to start with templates that would fail a person later."""
    configure_logging(settings.log_level, settings.log_format)
    services = build_services(settings)
    problems = template_problems(settings, services.mailer.renderer)
    if problems:
        services.close()
        raise ConfigError("email templates are broken:\n  " + "\n  ".join(problems))
    return services


def run_serve(host: str, port: int) -> int:
    settings = load_settings()
    services = start_services(settings)
    if settings.run_worker:
        services.worker.start()
    try:
        uvicorn.run(
            create_app(services),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            # Query strings carry tokens on the first GET of a link: keep
            # uvicorn's access log (which prints them) off.
            access_log=False,
            proxy_headers=False,
        )
    finally:
        services.close()
    return 0


def run_worker() -> int:
    settings = load_settings()
    services = start_services(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log.info("worker started; %d jobs pending", services.outbox.pending_count())
    services.worker.start()
    stop.wait()
    log.info("worker stopping")
    services.close()
    return 0

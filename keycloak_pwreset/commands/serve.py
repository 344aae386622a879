"""`serve` and `worker`."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

import uvicorn

from keycloak_pwreset.audit import configure_logging
from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.operator.templates_check import template_problems
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.settings import Settings, load_settings
from keycloak_pwreset.wake import WakeListener, WakeSender
from keycloak_pwreset.web.app import create_app
from keycloak_pwreset.worker_process import WorkerProcess

log = logging.getLogger(__name__)

# `serve --workers N` hands uvicorn this factory: each web process builds its own services.
APP_FACTORY = "keycloak_pwreset.web.asgi:app_from_environment"


def start_services(settings: Settings) -> Services:
    """Build everything, refusing to start with templates that would fail a person later."""
    configure_logging(settings.log_level, settings.log_format)
    services = build_services(settings)
    problems = template_problems(settings, services.mailer.renderer)
    if problems:
        services.close()
        raise ConfigError("email templates are broken:\n  " + "\n  ".join(problems))
    return services


def run_serve(host: str, port: int, workers: int = 1) -> int:
    settings = load_settings()
    # Checked (and the database migrated) once, here, before any web process starts.
    services = start_services(settings)
    worker = WorkerProcess().start() if settings.run_worker else None
    try:
        if worker is not None:
            services.wake_elsewhere(WakeSender(worker.socket_path))
        if workers > 1:
            services.close()  # each web process builds its own
        app = create_app(services) if workers == 1 else APP_FACTORY
        uvicorn.run(
            app,
            factory=workers > 1,
            workers=workers,
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            # Query strings carry tokens on the first GET of a link: keep
            # uvicorn's access log (which prints them) off.
            access_log=False,
            proxy_headers=False,
        )
    finally:
        if worker is not None:
            worker.stop()
        services.close()
    return 0


def run_worker(
    wake_socket: Path | None = None, nice: int = 0, exit_with_stdin: bool = False
) -> int:
    """The outbox worker until SIGINT/SIGTERM (or, for `serve`'s child, until stdin closes)."""
    if nice:
        os.nice(nice)
    settings = load_settings()
    services = start_services(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if exit_with_stdin:
        threading.Thread(target=_stop_at_eof, args=(stop,), daemon=True).start()
    listener = WakeListener(wake_socket, services.worker.wake).start() if wake_socket else None
    log.info("worker started; %d jobs pending", services.outbox.pending_count())
    services.worker.start()
    stop.wait()
    log.info("worker stopping")
    if listener is not None:
        listener.close()
    services.close()
    return 0


def _stop_at_eof(stop: threading.Event) -> None:
    """Set ``stop`` when standard input closes: `serve`, the parent, has gone."""
    while sys.stdin.buffer.read(1024):
        pass
    stop.set()

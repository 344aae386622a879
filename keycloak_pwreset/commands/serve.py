"""`serve` and `worker`."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn

from keycloak_pwreset.audit import configure_logging
from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.metrics import MULTIPROC_VAR, forget_directory, start_listener, use_directory
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


def metrics_listener(services: Services) -> Callable[[], None] | None:
    """The metrics on a port of their own (KCPR_METRICS_PORT), if one is set; returns its stop."""
    settings = services.settings
    if settings.metrics_port is None:
        return None
    where = f"{settings.metrics_host}:{settings.metrics_port}"
    try:
        stop = start_listener(
            services.scrape_registry(), settings.metrics_host, settings.metrics_port
        )
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {where} ({exc.strerror or exc})") from exc
    log.info("metrics at http://%s/metrics", where)
    return stop


def counting_directory() -> tuple[Path, bool]:
    """Where `serve`'s processes add up their counts, and whether it is ours to remove.

    An operator's PROMETHEUS_MULTIPROC_DIR (a volume, say) is used as it is.
    """
    chosen = os.environ.get(MULTIPROC_VAR)
    return use_directory(Path(chosen) if chosen else None), not chosen


def run_serve(host: str, port: int, workers: int = 1) -> int:
    settings = load_settings()
    # Before anything counts: the web processes and the worker child count together.
    directory, ours = counting_directory()
    # Checked (and the database migrated) once, here, before any web process starts.
    services = start_services(settings)
    stop_metrics = metrics_listener(services)
    worker = WorkerProcess().start() if settings.run_worker else None
    try:
        if worker is not None:
            services.wake_elsewhere(WakeSender(worker.socket_path))
        if workers > 1 and stop_metrics is None:
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
        if stop_metrics is not None:
            stop_metrics()
        services.close()
        if ours:
            forget_directory(directory)
    return 0


def run_worker(
    wake_socket: Path | None = None,
    nice: int = 0,
    exit_with_stdin: bool = False,
    serve_metrics: bool = True,
) -> int:
    """The outbox worker until SIGINT/SIGTERM (or, for `serve`'s child, until stdin closes).

    ``serve_metrics``: its own metrics listener when KCPR_METRICS_PORT is set; not for
    `serve`'s child, whose counts `serve`'s scrape already reads.
    """
    if nice:
        os.nice(nice)
    settings = load_settings()
    services = start_services(settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if exit_with_stdin:
        threading.Thread(target=_stop_at_eof, args=(stop,), daemon=True).start()
    stop_metrics = metrics_listener(services) if serve_metrics else None
    listener = WakeListener(wake_socket, services.worker.wake).start() if wake_socket else None
    log.info("worker started; %d jobs pending", services.outbox.pending_count())
    services.worker.start()
    stop.wait()
    log.info("worker stopping")
    if listener is not None:
        listener.close()
    if stop_metrics is not None:
        stop_metrics()
    services.close()
    return 0


def _stop_at_eof(stop: threading.Event) -> None:
    """Set ``stop`` when standard input closes: `serve`, the parent, has gone."""
    while sys.stdin.buffer.read(1024):
        pass
    stop.set()

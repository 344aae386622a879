"""The ASGI application built from the environment, for `serve --workers N`.

uvicorn starts each web process from an import string; this factory builds that
process's own services (database engine, Keycloak session, in-memory limits)
from the same KCPR_* settings as `serve`, and wakes `serve`'s worker process
through the socket `serve` named in the environment.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from keycloak_pwreset.audit import configure_logging
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.settings import load_settings
from keycloak_pwreset.wake import WAKE_SOCKET_VAR, WakeSender
from keycloak_pwreset.web.app import create_app

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def app_from_environment() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    services = build_services(settings)
    socket_path = os.environ.get(WAKE_SOCKET_VAR)
    if settings.run_worker and socket_path:
        services.wake_elsewhere(WakeSender(socket_path))
    return create_app(services, lifespan=closing_at_shutdown(services))


def closing_at_shutdown(services: Services) -> Lifespan:
    """This web process's services closed when uvicorn stops it."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    return lifespan

"""Running the app under uvicorn in a background thread (the demo and the tests)."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from keycloak_pwreset.errors import PwresetError


class BackgroundServer:
    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            # As `serve`: the app reads X-Forwarded-For itself, from trusted proxies only.
            proxy_headers=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self, timeout: float = 20.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise PwresetError(f"the web service did not start on {self.url} (port in use?)")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)

"""A real Keycloak server on loopback, for the demo and the integration tests."""

import atexit
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from keycloak_pwreset.keycloak_versions import bootstrap_admin_env
from keycloak_pwreset_demo.admin_account import adopt_admin
from keycloak_pwreset_demo.keycloak_home import make_run_home
from keycloak_pwreset_demo.keycloak_prepare import (
    Prepared,
    dist_version,
    ensure_prepared,
    runtime_options,
)
from keycloak_pwreset_demo.keycloak_process import (
    child_environment,
    launch,
    terminate,
    wait_ready,
)
from keycloak_pwreset_demo.ports import LOOPBACK, ensure_port_free, free_port
from keycloak_pwreset_demo.running import Running


class KeycloakServer(Running):
    """Start and stop Keycloak from a cached distribution (see ``ensure_distribution``).

    All state lives under ``work_dir`` (its own home, database and ``keycloak.log``), so
    separate runs share nothing and the cached distribution is never written. Starting the same
    object again after ``stop()`` reuses that state, like restarting a real server.
    """

    def __init__(
        self,
        home: Path,
        *,
        port: int = 0,
        admin_user: str = "admin",
        admin_password: str,
        java_home: Path,
        work_dir: Path,
        progress: Callable[[str], None] = print,
        providers: tuple[Path, ...] = (),
        environment: Mapping[str, str] | None = None,
    ) -> None:
        # Absolute: kc.sh runs with its home as working directory.
        self._dist = home.absolute()
        self._port = port if port else free_port()
        self._admin_user = admin_user
        self._admin_password = admin_password
        self._java_home = java_home
        self._work_dir = work_dir.absolute()
        self._progress = progress
        self._providers = providers
        # Extra variables for Keycloak, e.g. KCPR_PUBLIC_URL for the login theme.
        self._environment = dict(environment or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._startup_seconds = 0.0

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:18080`` (no trailing slash)."""
        return f"http://{LOOPBACK}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def admin_user(self) -> str:
        return self._admin_user

    @property
    def admin_password(self) -> str:
        return self._admin_password

    @property
    def startup_seconds(self) -> float:
        """Seconds the last ``start()`` took from launch until Keycloak served requests."""
        return self._startup_seconds

    @property
    def pid(self) -> int | None:
        """The id of the process started (kc.sh, the JVM's parent), None when not running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path:
        return self._work_dir / "keycloak.log"

    def start(self, timeout: float = 240) -> None:
        """Start Keycloak and return once ``/realms/master`` answers; DemoError otherwise."""
        if self._proc is not None:
            return
        ensure_port_free(self._port, "Keycloak")
        prepared = ensure_prepared(
            self._dist,
            java_home=self._java_home,
            providers=self._providers,
            progress=self._progress,
        )
        run_home = self._ensure_run_home(prepared)
        self._progress(f"Starting Keycloak on {self.url} (log: {self.log_path})")
        began = time.monotonic()
        self._proc = launch(
            run_home,
            [*runtime_options(self._dist), f"--http-port={self._port}"],
            env=self._child_environment(),
            log_path=self.log_path,
        )
        # Registered before waiting: a test run that crashes or is interrupted mid-start
        # must not leave a JVM running.
        atexit.register(self.stop)
        try:
            wait_ready(
                self._proc,
                self.url,
                timeout=timeout,
                log_path=self.log_path,
                progress=self._progress,
            )
            self._adopt_admin_once(run_home, prepared)
        except BaseException:
            self.stop()
            raise
        self._startup_seconds = time.monotonic() - began
        self._progress(f"Keycloak is ready ({self._startup_seconds:.1f} s)")

    def _ensure_run_home(self, prepared: Prepared) -> Path:
        """This server's own Keycloak home under ``work_dir``, made on the first start."""
        run_home = self._work_dir / "keycloak-home"
        if not run_home.exists():
            # Made aside and renamed, so an interrupted copy is never mistaken for a home.
            partial = self._work_dir / ".keycloak-home-partial"
            shutil.rmtree(partial, ignore_errors=True)
            make_run_home(
                self._dist,
                partial,
                quarkus_from=prepared.quarkus_dir,
                data_from=prepared.data_dir,
                providers=self._providers,
            )
            partial.rename(run_home)
        return run_home

    def _child_environment(self) -> dict[str, str]:
        return child_environment(
            self._java_home,
            # Only used if the database is new; the template's admin is swapped after
            # start-up (_adopt_admin_once).
            {
                **self._environment,
                **bootstrap_admin_env(
                    dist_version(self._dist), self._admin_user, self._admin_password
                ),
            },
        )

    def _adopt_admin_once(self, run_home: Path, prepared: Prepared) -> None:
        """Swap the database template's admin for this server's, on its first start only."""
        marker = run_home / ".admin-adopted"
        if not marker.exists():
            adopt_admin(
                self.url,
                current=(prepared.admin_user, prepared.admin_password),
                wanted=(self._admin_user, self._admin_password),
            )
            marker.touch()

    def stop(self) -> None:
        """Stop Keycloak (SIGTERM, then SIGKILL); does nothing if it is not running."""
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is not None:
            terminate(proc)

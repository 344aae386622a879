"""The whole demo stack in one object: Keycloak, a realm, a mail sink, the service.

`keycloak-pwreset demo` runs it for people; the integration tests run the
very same stack, so what the tests prove is what the demo shows.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keycloak_pwreset.keycloak_versions import login_theme
from keycloak_pwreset.operator.theme_jar import build_theme_jar
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.settings import Settings, load_settings
from keycloak_pwreset.web.app import create_app
from keycloak_pwreset_demo.background_server import BackgroundServer
from keycloak_pwreset_demo.keycloak_dist import (
    KEYCLOAK_VERSION,
    ensure_distribution,
    find_java_home,
)
from keycloak_pwreset_demo.keycloak_server import KeycloakServer
from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.realm import (
    DEFAULT_PASSWORD_POLICY,
    RealmInfo,
    create_realm,
    create_user,
)
from keycloak_pwreset_demo.smtp_sink import SmtpSink


@dataclass(frozen=True)
class DemoUser:
    username: str
    email: str
    password: str
    first_name: str
    last_name: str
    locale: str | None = None


DEMO_USER = DemoUser("alice", "alice@example.org", "Demo-pass1", "Alice", "Liddell")


@dataclass
class KeycloakHandle:
    """A running Keycloak (started here and reused by every realm of a run)."""

    server: KeycloakServer
    # The login theme installed in it (its links lead to `companion_url`), if any.
    login_theme: str | None = None

    @classmethod
    def start(
        cls,
        work_dir: Path,
        *,
        port: int = 0,
        companion_url: str | None = None,
        progress: Callable[[str], None] = print,
        version: str = KEYCLOAK_VERSION,
    ) -> KeycloakHandle:
        """Start Keycloak; with ``companion_url``, with this product's login theme installed."""
        home = ensure_distribution(version, progress=progress)
        providers: tuple[Path, ...] = ()
        environment = {}
        if companion_url:
            # The JAR is the one `theme build` writes, URL left to the environment,
            # so its bytes (and the cached Keycloak build) do not change per run.
            providers = (build_theme_jar(work_dir / "theme"),)
            environment["KCPR_PUBLIC_URL"] = companion_url
        server = KeycloakServer(
            home,
            port=port,
            admin_password=secrets.token_urlsafe(12),
            java_home=find_java_home(),
            work_dir=work_dir / "keycloak",
            progress=progress,
            providers=providers,
            environment=environment,
        )
        server.start()
        return cls(server, login_theme(version) if companion_url else None)

    def new_realm(
        self,
        name: str,
        password_policy: str = DEFAULT_PASSWORD_POLICY,
        *,
        login_theme: str | None = "",
    ) -> RealmInfo:
        """A fresh realm prepared by setup-realm, with this product's login theme if installed."""
        if login_theme == "":
            login_theme = self.login_theme
        s = self.server
        return create_realm(
            s.url,
            s.admin_user,
            s.admin_password,
            name,
            password_policy=password_policy,
            login_theme=login_theme,
        )

    def add_user(self, realm: str, user: DemoUser) -> str:
        s = self.server
        return create_user(
            s.url,
            s.admin_user,
            s.admin_password,
            realm,
            username=user.username,
            email=user.email,
            password=user.password,
            first_name=user.first_name,
            last_name=user.last_name,
            locale=user.locale,
        )

    def stop(self) -> None:
        self.server.stop()


@dataclass
class ServiceHandle:
    """The companion service over a realm, served on a loopback port, with its worker."""

    settings: Settings
    services: Services
    server: BackgroundServer
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    @classmethod
    def start(
        cls,
        realm: RealmInfo,
        sink: SmtpSink,
        work_dir: Path,
        *,
        port: int = 0,
        **overrides: Any,
    ) -> ServiceHandle:
        port = port or free_port()
        values: dict[str, Any] = {
            "keycloak_url": realm.server_url,
            "realm": realm.realm,
            "client_id": realm.client_id,
            "client_secret": realm.client_secret,
            "public_url": f"http://127.0.0.1:{port}",
            "secret_key": secrets.token_hex(32),
            "database_url": f"sqlite:///{work_dir / 'keycloak-pwreset.db'}",
            "worker_poll_seconds": 0.5,
            "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none"},
            "mail": {
                "from_address": "account-help@demo.example",
                "from_name": "Demo Account Help",
                "reply_to": "support@demo.example",
                "envelope_from": "bounces@demo.example",
            },
        }
        values.update(overrides)
        work_dir.mkdir(parents=True, exist_ok=True)
        settings = load_settings(**values)
        services = build_services(settings)
        services.worker.start()
        server = BackgroundServer(create_app(services), port=port)
        server.start()
        return cls(settings, services, server)

    def stop(self) -> None:
        self.server.stop()
        self.services.close()


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path

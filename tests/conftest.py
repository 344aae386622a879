"""One real Keycloak, one real SMTP server and the service, started once per test run.

Shared by tests/integration and tests/e2e, so that a run starts Keycloak once.

Everything runs as local processes on 127.0.0.1 through the same machinery as
`keycloak-pwreset demo` (keycloak_pwreset_demo.stack).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from keycloak import KeycloakAdmin

from keycloak_pwreset_demo.keycloak_dist import KEYCLOAK_VERSION
from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.postgres import PostgresCluster
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.redis_server import RedisServer
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle, ServiceHandle
from tests.helpers import FIGURES, Account, Browser

# The Keycloak the run starts: the pinned one, or KCPR_TEST_KEYCLOAK (tests/run's matrix
# runs the integration core on each supported version, keycloak_pwreset/keycloak_versions.py).
KEYCLOAK_UNDER_TEST = os.environ.get("KCPR_TEST_KEYCLOAK") or KEYCLOAK_VERSION


def _interrupted(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # A run stopped with SIGTERM (a CI timeout, `kill`) tears its fixtures down like
    # Ctrl-C does, so that no Keycloak JVM or `serve` process outlives it.
    signal.signal(signal.SIGTERM, _interrupted)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)
        if "tests/e2e" in str(item.path):
            item.add_marker(pytest.mark.e2e)
        if "tests/security" in str(item.path):
            item.add_marker(pytest.mark.security)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("integration figures")
        for key, value in FIGURES.items():
            terminalreporter.write_line(f"{key}: {value}")


# Every test runs from 127.0.0.1: per-client limits high enough for the whole
# suite; the per-account email cooldown stays at its default (3 an hour).
TEST_LIMITS = {"requests_per_client": "100000/minute", "token_attempts_per_client": "100000/minute"}


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One throw-away PostgreSQL cluster for the run, started by the first test that needs it.

    In a directory of its own under /tmp (not pytest's, which its server user cannot enter).
    """
    cluster = PostgresCluster.start(Path(tempfile.mkdtemp(prefix="kcpr-postgres-")))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One throw-away Redis for the run, started by the first test that needs it."""
    directory = Path(tempfile.mkdtemp(prefix="kcpr-redis-"))
    server = RedisServer(directory).start()
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


# The integration and end-to-end suites keep their store in PostgreSQL, as a site with
# several instances does; KCPR_TEST_STORE=sqlite runs them on SQLite files instead (the
# embedded default of `demo` and small sites, also covered by the store's contract tests).
TEST_STORE = os.environ.get("KCPR_TEST_STORE", "postgresql")


@pytest.fixture(scope="session")
def new_store(request: pytest.FixtureRequest) -> Callable[[Path], str]:
    """A function that makes an empty store for one service and returns its URL.

    On PostgreSQL a new database of the run's cluster (which starts with the first use);
    on SQLite a file in the service's work directory.
    """
    if TEST_STORE not in {"postgresql", "sqlite"}:
        raise pytest.UsageError(f"KCPR_TEST_STORE must be postgresql or sqlite, not {TEST_STORE!r}")

    def make(work_dir: Path) -> str:
        if TEST_STORE == "sqlite":
            work_dir.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{work_dir / 'keycloak-pwreset.db'}"
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        name = f"service_{secrets.token_hex(4)}"
        cluster.create_database(name)
        return cluster.database_url(name)

    return make


@pytest.fixture(scope="session")
def service_port() -> int:
    """Chosen before Keycloak starts: its login theme links to the service there."""
    return free_port()


@pytest.fixture(scope="session")
def keycloak(
    tmp_path_factory: pytest.TempPathFactory, service_port: int
) -> Iterator[KeycloakHandle]:
    started = time.monotonic()
    handle = KeycloakHandle.start(
        tmp_path_factory.mktemp("keycloak"),
        companion_url=f"http://127.0.0.1:{service_port}",
        version=KEYCLOAK_UNDER_TEST,
    )
    FIGURES["keycloak"] = KEYCLOAK_UNDER_TEST
    FIGURES["keycloak start (s)"] = f"{time.monotonic() - started:.1f}"
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def realm(keycloak: KeycloakHandle) -> RealmInfo:
    return keycloak.new_realm(f"it-{secrets.token_hex(3)}")


@pytest.fixture(scope="session")
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def service(
    realm: RealmInfo,
    sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
    service_port: int,
    new_store: Callable[[Path], str],
) -> Iterator[ServiceHandle]:
    work_dir = tmp_path_factory.mktemp("service")
    handle = ServiceHandle.start(
        realm,
        sink,
        work_dir,
        port=service_port,
        limits=TEST_LIMITS,
        database_url=new_store(work_dir),
    )
    FIGURES["integration store"] = handle.settings.database_url.split(":", 1)[0]
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def admin(keycloak: KeycloakHandle, realm: RealmInfo) -> KeycloakAdmin:
    """Keycloak's admin API on the test realm, to look at what the service did."""
    server = keycloak.server
    return KeycloakAdmin(
        server_url=server.url,
        username=server.admin_user,
        password=server.admin_password,
        realm_name=realm.realm,
        user_realm_name="master",
    )


@pytest.fixture
def account(keycloak: KeycloakHandle, realm: RealmInfo) -> Account:
    """A fresh user per test, so tests never depend on each other's passwords."""
    name = f"user{secrets.token_hex(4)}"
    user = DemoUser(name, f"{name}@example.org", "Original-pass1", "Test", "Person")
    return Account(user, keycloak.add_user(realm.realm, user))


@pytest.fixture
def browser(service: ServiceHandle) -> Browser:
    return Browser(service.url)

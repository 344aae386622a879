"""Two `serve` and two `worker` processes on one PostgreSQL and one Redis keep the guarantees.

The processes are tests/integration/instances.py's; the same under faults (a worker killed,
SMTP, PostgreSQL and Redis down) is test_instances_under_faults.py.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from keycloak_pwreset_demo.postgres import PostgresCluster
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.redis_server import RedisServer
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from tests.helpers import Account
from tests.integration.instances import REQUESTS_PER_CLIENT, RESET, Instances, running_instances
from tests.integration.test_reset_flow import can_log_in, mails, wait_count

NEW_PASSWORD = "Several-instances-9"


@pytest.fixture(scope="module")
def instances(
    realm: RealmInfo,
    sink: SmtpSink,
    postgres: PostgresCluster,
    redis_server: RedisServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Instances]:
    logs = tmp_path_factory.mktemp("instances")
    with running_instances(realm, sink, postgres, redis_server.url, logs) as running:
        yield running


def test_fifty_requests_for_one_account_from_fifty_networks_stay_within_its_limit(
    instances: Instances, sink: SmtpSink, account: Account
) -> None:
    """Spread across both web instances, drained by both workers at once: the account's
    hourly ceiling (10 emails) holds across workers (their turns share an advisory lock)."""
    email = account.user.email

    def ask(n: int) -> int:
        return instances.post(n, RESET, {"identifier": email}, f"198.51.100.{n + 1}")

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(ask, range(50)))
    assert statuses == [202] * 50
    instances.drained()
    delivered = mails(sink, email, "Reset your password")
    assert 1 <= len(delivered) <= 10, len(delivered)


def test_a_client_alternating_between_instances_meets_the_limit_at_the_same_count(
    instances: Instances,
) -> None:
    network = f"203.0.113.{secrets.randbelow(200) + 20}"
    statuses = [
        instances.post(n, RESET, {"identifier": f"nobody{n}@flood.example"}, network)
        for n in range(REQUESTS_PER_CLIENT + 3)
    ]
    assert statuses == [202] * REQUESTS_PER_CLIENT + [429] * 3  # one count, in Redis
    instances.drained()


def test_twenty_concurrent_completions_across_instances_change_the_password_once(
    instances: Instances, sink: SmtpSink, account: Account, realm: RealmInfo
) -> None:
    email = account.user.email
    assert instances.post(0, RESET, {"identifier": email}, "192.0.2.10") == 202
    [mail] = wait_count(sink, email, "Reset your password", 1)
    match = re.search(r"/reset-password\?token=([\w-]+)", mail.text_body())
    assert match
    body = {
        "token": match.group(1),
        "password": NEW_PASSWORD,
        "password_confirmation": NEW_PASSWORD,
    }

    def complete(n: int) -> int:
        return instances.post(n, RESET + "/complete", body, f"192.0.2.{20 + n}")

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(complete, range(20)))
    assert sorted(statuses) == [200] + [410] * 19, statuses
    assert can_log_in(realm, account.user.username, NEW_PASSWORD)

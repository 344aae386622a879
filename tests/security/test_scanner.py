"""An off-the-shelf scanner against the real service, as an attacker would start: Debian's wapiti.

Against the service of tests/conftest.py (a real Keycloak behind it, 127.0.0.1 only), crawling
from /forgot-password, /signup and a live reset link, with the modules that apply to these
pages: xss, sql, crlf, exec, file, redirect, csrf, methods, backup. Bounded in depth, links and
time, so that the whole test stays within a few minutes on two cores. Its JSON report must
list no vulnerability and no HTTP 500 (the "Internal Server Error" anomalies); a 500 is what
wapiti found once (a non-ASCII ``csrf_token``).

tests/run installs wapiti with apt-get; without it, this test is skipped (it fails under CI=true).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from keycloak_pwreset_demo.stack import ServiceHandle
from tests.helpers import FIGURES, Account

MODULES = "xss,sql,crlf,exec,file,redirect,csrf,methods,backup"
# Per module (checked between attacked requests, so a module may run a little over), and
# for the crawl: two minutes at most with nine modules. Today the whole scan takes ~10 s.
MAX_ATTACK_SECONDS = 12
MAX_CRAWL_SECONDS = 20
TIMEOUT_SECONDS = 240  # a hung scanner fails the test instead of the run
# The pages are few, but each has nine language links: room for all of them in "/", or the
# reset form (found last) would be dropped by the per-directory cap.
MAX_FILES_PER_DIR = 100
FORMS = ("/forgot-password", "/signup", "/reset-password")


def wapiti(base: str, starts: list[str], work: Path) -> tuple[dict[str, Any], str]:
    """Run the scanner; its JSON report and its output."""
    report = work / "report.json"
    config = work / "config"
    config.mkdir()
    # wapiti loads every module, and its technology finder (not used here) downloads its
    # database when there is none: an empty one keeps the run off the internet.
    (config / "apps.json").write_text("{}")
    command = [
        "wapiti",
        *("-u", f"{base}/", "--scope", "folder"),
        *(arg for url in starts for arg in ("-s", url)),
        *("-m", MODULES),
        *("-d", "2", "--max-links-per-page", "20", "--max-files-per-dir", str(MAX_FILES_PER_DIR)),
        *("--max-scan-time", str(MAX_CRAWL_SECONDS)),
        *("--max-attack-time", str(MAX_ATTACK_SECONDS)),
        *("-t", "10", "-S", "normal", "--flush-session"),
        *("--store-session", str(work / "session"), "--store-config", str(config)),
        *("-f", "json", "-o", str(report)),
        "-v",
        "1",
        # Never phone home: no crash reports to wapiti's site from a test run.
        "--no-bugreport",
    ]
    # Anything but loopback goes to a closed port: the scan cannot reach another host.
    closed = "http://127.0.0.1:9"
    env = {**os.environ, "HTTP_PROXY": closed, "HTTPS_PROXY": closed, "NO_PROXY": "127.0.0.1"}
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        cwd=work,
        check=False,
    )
    output = done.stdout + done.stderr
    (work / "wapiti.log").write_text(output)  # for a look after a failure
    assert done.returncode == 0, output[-3000:]
    assert report.is_file(), output[-3000:]
    loaded: dict[str, Any] = json.loads(report.read_text())
    return loaded, output


def attacked_by(output: str, module: str) -> set[str]:
    """The paths of the forms ``module`` attacked, from wapiti's output (-v 1)."""
    section = output.partition(f"[*] Launching module {module}")[2].partition("[*] ")[0]
    return set(re.findall(r"\[\+\] POST https?://[^/\s]+(/[\w/-]*)", section))


def findings(section: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [
        f"{category}: {item['method']} {item['path']} {item['parameter']!r}: {item['info']}"
        for category, items in section.items()
        for item in items
    ]


# Skipped only on a developer's machine without it: CI (CI=true) installs it through
# tests/run, and a CI run without it must fail rather than pass without scanning.
@pytest.mark.skipif(
    shutil.which("wapiti") is None and not os.environ.get("CI"), reason="wapiti is not installed"
)
def test_wapiti_finds_nothing(service: ServiceHandle, account: Account, tmp_path: Path) -> None:
    assert shutil.which("wapiti"), "wapiti is not installed: tests/run installs it with apt-get"
    assert service.url.startswith("http://127.0.0.1:")  # loopback only
    # A live link as the email carries it, minted by the service's own store (the email path
    # has tests of its own; the scanner needs only the link).
    token = service.services.tokens.issue(
        purpose="reset", ttl=timedelta(hours=1), user_id=account.id, email=account.user.email
    )
    link = f"{service.url}/reset-password?token={token}"
    started = time.monotonic()
    # The link first (its GET puts the token in a cookie and redirects), then the page it
    # redirects to: wapiti does not follow a redirect without a body.
    starts = [f"{service.url}{path}" for path in ("/forgot-password", "/signup")]
    report, output = wapiti(service.url, [*starts, link, f"{service.url}/reset-password"], tmp_path)
    FIGURES["wapiti scan (s)"] = f"{time.monotonic() - started:.0f}"
    attacked = attacked_by(output, "xss")
    FIGURES["wapiti: forms attacked"] = ", ".join(sorted(attacked))
    # The attacks reached every form (else the scan would prove nothing).
    assert set(FORMS) <= attacked, output[-3000:]
    server_errors = report["anomalies"].get("Internal Server Error", [])
    other_anomalies = {k: v for k, v in report["anomalies"].items() if k != "Internal Server Error"}
    FIGURES["wapiti: other anomalies"] = str(len(findings(other_anomalies)))
    assert findings({"Internal Server Error": server_errors}) == []
    assert findings(report["vulnerabilities"]) == []

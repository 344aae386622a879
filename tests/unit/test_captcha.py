"""The optional CAPTCHA: the siteverify verifier (provider faked with `responses`), its
configuration, and the forms and API that use it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
import requests
import responses
from fastapi.testclient import TestClient

from keycloak_pwreset.captcha import PROVIDERS, SiteVerifyCaptcha, build_verifier
from keycloak_pwreset.commands.check import check_captcha
from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.settings import CaptchaSettings, Settings
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.web.app import create_app
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_web_pages import csrf_of

TURNSTILE = PROVIDERS["turnstile"]
HOSTNAME = "help.example.org"  # PUBLIC_URL's
SOLVED = "solved-by-a-person"


def turnstile() -> SiteVerifyCaptcha:
    return SiteVerifyCaptcha(
        TURNSTILE, site_key="site-key", secret="captcha-secret", expected_hostname=HOSTNAME
    )


def provider_says(body: object, status: int = 200) -> None:
    responses.add(responses.POST, TURNSTILE.verify_url, json=body, status=status)


@responses.activate
def test_a_solved_challenge_passes_and_sends_secret_response_and_client() -> None:
    provider_says({"success": True, "hostname": HOSTNAME})
    assert turnstile().verify(SOLVED, "192.0.2.7") is True
    sent = parse_qs(responses.calls[0].request.body)  # type: ignore[arg-type]
    assert sent == {
        "secret": ["captcha-secret"],
        "response": [SOLVED],
        "remoteip": ["192.0.2.7"],
    }


@pytest.mark.parametrize(
    "verdict",
    [
        {"success": False, "error-codes": ["invalid-input-response"]},
        {"success": "true", "hostname": HOSTNAME},  # only a real true counts
        {"hostname": HOSTNAME},
        ["success"],
        # Solved on another site that uses the same key: not here.
        {"success": True, "hostname": "elsewhere.example"},
    ],
)
@responses.activate
def test_anything_but_a_clear_success_here_fails(verdict: object) -> None:
    provider_says(verdict)
    assert turnstile().verify(SOLVED, "192.0.2.7") is False


@responses.activate
def test_the_hostname_check_can_be_switched_off() -> None:
    provider_says({"success": True, "hostname": "example.com"})  # e.g. the providers' test keys
    settings = CaptchaSettings(
        provider="turnstile", site_key="k", secret_key="s", check_hostname=False
    )
    verifier = build_verifier(settings, PUBLIC_URL)
    assert verifier is not None and verifier.verify(SOLVED, "192.0.2.7") is True
    assert turnstile().verify(SOLVED, "192.0.2.7") is False


@pytest.mark.parametrize("failure", ["500", "not json", "refused", "timeout"])
@responses.activate
def test_an_unreachable_or_broken_provider_fails_closed(failure: str) -> None:
    url = TURNSTILE.verify_url
    if failure == "500":
        responses.add(responses.POST, url, status=500)
    elif failure == "not json":
        responses.add(responses.POST, url, body="<html>", status=200)
    elif failure == "refused":
        responses.add(responses.POST, url, body=requests.ConnectionError("refused"))
    else:
        responses.add(responses.POST, url, body=requests.Timeout("slow"))
    assert turnstile().verify(SOLVED, "192.0.2.7") is False


@pytest.mark.parametrize("answer", ["", "x" * 5000])
@responses.activate
def test_empty_or_absurd_responses_are_refused_without_asking(answer: str) -> None:
    assert turnstile().verify(answer, "192.0.2.7") is False
    assert len(responses.calls) == 0


def test_off_by_default() -> None:
    assert make_settings().captcha.provider == "none"
    assert build_verifier(CaptchaSettings(), PUBLIC_URL) is None


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_each_provider_is_configured_by_name(name: str) -> None:
    settings = CaptchaSettings(provider=name, site_key="k", secret_key="s")
    verifier = build_verifier(settings, PUBLIC_URL)
    assert isinstance(verifier, SiteVerifyCaptcha)
    assert verifier.field == PROVIDERS[name].field


def test_a_provider_needs_both_keys() -> None:
    with pytest.raises(ValueError, match="needs site_key and secret_key"):
        CaptchaSettings(provider="turnstile", site_key="k")


def test_an_unknown_provider_is_one_clear_error() -> None:
    settings = CaptchaSettings(provider="nocaptcha", site_key="k", secret_key="s")
    with pytest.raises(ConfigError, match=r"unknown provider 'nocaptcha' \(known: none, turnstile"):
        build_verifier(settings, PUBLIC_URL)


class AlwaysNo:
    field = "my-field"

    def widget(self) -> None:
        return None

    def verify(self, response: str, client_address: str) -> bool:
        return False


def test_a_plugin_verifier_is_found_by_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    class EntryPoint:
        name = "mine"

        def load(self) -> object:
            return lambda settings, public_url: AlwaysNo()

    monkeypatch.setattr(
        "keycloak_pwreset.captcha.entry_points", lambda group: [EntryPoint()] if group else []
    )
    settings = CaptchaSettings(provider="mine", site_key="k", secret_key="s")
    assert isinstance(build_verifier(settings, PUBLIC_URL), AlwaysNo)


# -- the forms and the API ------------------------------------------------------------------


@pytest.fixture
def guarded(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: Database, clock: FakeClock
) -> Iterator[tuple[TestClient, Services]]:
    settings = make_settings(
        captcha={"provider": "turnstile", "site_key": "site-key", "secret_key": "captcha-secret"},
        limits={"enabled": False},
    )
    services = build_services(settings, gateway=keycloak, transport=transport, db=db, clock=clock)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add_callback(
            responses.POST,
            TURNSTILE.verify_url,
            callback=lambda request: (
                200,
                {},
                '{"success": true, "hostname": "help.example.org"}'
                if f"response={SOLVED}" in str(request.body)
                else '{"success": false}',
            ),
        )
        with TestClient(create_app(services), base_url=PUBLIC_URL) as client:
            yield client, services


def test_the_forms_show_the_widget_and_the_policy_allows_only_it(
    guarded: tuple[TestClient, Services],
) -> None:
    client, _ = guarded
    for path in ("/forgot-password", "/signup"):
        page = client.get(path, headers={"Accept-Language": "de"})
        assert 'class="captcha cf-turnstile" data-sitekey="site-key"' in page.text
        assert 'src="https://challenges.cloudflare.com/turnstile/v0/api.js?hl=de"' in page.text
        csp = page.headers["Content-Security-Policy"]
        assert "script-src https://challenges.cloudflare.com;" in csp
        assert "frame-src https://challenges.cloudflare.com;" in csp
        assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp


def test_without_a_captcha_pages_allow_no_script(client: TestClient) -> None:
    page = client.get("/forgot-password")
    assert "<script" not in page.text
    assert "script-src" not in page.headers["Content-Security-Policy"]  # default-src 'none'


def test_reset_form_refuses_an_unsolved_captcha_and_accepts_a_solved_one(
    guarded: tuple[TestClient, Services],
) -> None:
    client, services = guarded
    csrf = csrf_of(client.get("/forgot-password").text)
    refused = client.post("/forgot-password", data={"identifier": "alice", "csrf_token": csrf})
    assert 'data-result="captcha_failed"' in refused.text
    assert 'value="alice"' in refused.text  # what they typed stays
    assert services.outbox.pending_count() == 0
    accepted = client.post(
        "/forgot-password",
        data={"identifier": "alice", "csrf_token": csrf, TURNSTILE.field: SOLVED},
    )
    assert accepted.status_code == 200 and "captcha_failed" not in accepted.text
    assert services.outbox.pending_count() == 1


def test_signup_form_refuses_an_unsolved_captcha(guarded: tuple[TestClient, Services]) -> None:
    client, services = guarded
    csrf = csrf_of(client.get("/signup").text)
    person = {"email": "new@example.org", "first_name": "N", "last_name": "P", "username": "np"}
    refused = client.post("/signup", data={**person, "csrf_token": csrf, TURNSTILE.field: "bot"})
    assert 'data-result="captcha_failed"' in refused.text
    assert services.outbox.pending_count() == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/password-resets", {"identifier": "alice"}),
        (
            "/api/v1/signups",
            {"email": "new@example.org", "first_name": "N", "last_name": "P", "username": "np"},
        ),
    ],
)
def test_the_api_needs_the_captcha_too(
    guarded: tuple[TestClient, Services], path: str, body: dict[str, str]
) -> None:
    client, services = guarded
    refused = client.post(path, json=body)
    assert refused.status_code == 400 and refused.json()["result"] == "captcha_failed"
    assert services.outbox.pending_count() == 0
    accepted = client.post(path, json={**body, "captcha_response": SOLVED})
    assert accepted.status_code == 202
    assert services.outbox.pending_count() == 1


# -- `keycloak-pwreset check` -----------------------------------------------------------------


def captcha_settings(**captcha: object) -> Settings:
    return make_settings(captcha={"site_key": "k", "secret_key": "s", **captcha})


@responses.activate
def test_check_accepts_a_provider_that_knows_the_secret() -> None:
    provider_says({"success": False, "error-codes": ["invalid-input-response"]})
    assert check_captcha(captcha_settings(provider="turnstile")) == []


@responses.activate
def test_check_names_a_refused_secret() -> None:
    provider_says({"success": False, "error-codes": ["invalid-input-secret"]})
    assert check_captcha(captcha_settings(provider="turnstile")) == [
        "CAPTCHA (turnstile): the provider refuses KCPR_CAPTCHA__SECRET_KEY"
    ]


@responses.activate
def test_check_names_an_unreachable_provider() -> None:
    responses.add(responses.POST, TURNSTILE.verify_url, body=requests.ConnectionError("refused"))
    (problem,) = check_captcha(captcha_settings(provider="turnstile"))
    assert problem.startswith(f"CAPTCHA (turnstile): cannot reach {TURNSTILE.verify_url}")


def test_check_names_an_unknown_provider() -> None:
    (problem,) = check_captcha(captcha_settings(provider="nocaptcha"))
    assert problem.startswith("KCPR_CAPTCHA__PROVIDER: unknown provider 'nocaptcha'")


# -- answers that cannot prove anything fail closed ----------------------------------------


@pytest.mark.parametrize(
    "verdict",
    [
        {"success": True},  # no hostname: cannot say it was solved here
        {"success": True, "hostname": None},
        {"success": True, "hostname": ""},
        {"success": True, "hostname": ["help.example.org"]},
    ],
)
@responses.activate
def test_a_success_without_our_hostname_fails_when_the_check_is_on(verdict: object) -> None:
    provider_says(verdict)
    assert turnstile().verify(SOLVED, "192.0.2.7") is False


@responses.activate
def test_without_the_hostname_check_a_success_without_hostname_passes() -> None:
    provider_says({"success": True})
    settings = CaptchaSettings(
        provider="turnstile", site_key="k", secret_key="s", check_hostname=False
    )
    verifier = build_verifier(settings, PUBLIC_URL)
    assert verifier is not None and verifier.verify(SOLVED, "192.0.2.7") is True


ELSEWHERE = "https://siteverify.evil.example/collect"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@responses.activate
def test_siteverify_redirects_are_not_followed_and_fail(status: int) -> None:
    """A redirect would carry the secret (307/308: the whole body) to wherever it points."""
    responses.add(
        responses.POST, TURNSTILE.verify_url, status=status, headers={"Location": ELSEWHERE}
    )
    responses.add(responses.POST, ELSEWHERE, json={"success": True, "hostname": HOSTNAME})
    responses.add(responses.GET, ELSEWHERE, json={"success": True, "hostname": HOSTNAME})
    assert turnstile().verify(SOLVED, "192.0.2.7") is False
    assert [call.request.url for call in responses.calls] == [TURNSTILE.verify_url]


@responses.activate
def test_check_does_not_follow_a_redirect_either() -> None:
    responses.add(responses.POST, TURNSTILE.verify_url, status=307, headers={"Location": ELSEWHERE})
    responses.add(responses.POST, ELSEWHERE, json={"success": False, "error-codes": []})
    (problem,) = check_captcha(captcha_settings(provider="turnstile"))
    assert "HTTP 307" in problem and "redirects are not followed" in problem
    assert len(responses.calls) == 1

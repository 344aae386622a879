"""What bench/throughput.py loads: four paths, their wrk Lua scripts, and a check of each by hand.

The two POSTs give every request its own address (a counter per wrk thread and a tag per wrk
run), so the service's coalescing of identical pending requests cannot turn them into no-ops.
The form's POSTs all carry one CSRF cookie and its token, fetched with ``GET /forgot-password``
before the run: the token is an HMAC of the cookie (web/csrf.py), valid for any number of POSTs.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

FORM_PATH = "/forgot-password"
API_PATH = "/api/v1/password-resets"
CSRF_FIELD = "csrf_token"  # keycloak_pwreset.web.csrf.FIELD
SENT_MARK = 'data-result="success"'  # forgot_password_sent.html: "Check your inbox"
TIMEOUT = 10

# Shared by both POST scripts: a distinct address per request, from a counter per thread.
LUA_COMMON = """
local threads = 0
function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end
local counter = 0
local function next_address()
  counter = counter + 1
  return string.format("tp-%s-%d-%d@bench.example", TAG, thread_no or 0, counter)
end
"""

LUA_API = """
function request()
  local body = '{"identifier": "' .. next_address() .. '"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""

LUA_FORM = """
local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Cookie"] = COOKIE,
}
function request()
  local address = string.gsub(next_address(), "@", "%%40")
  local body = "csrf_token=" .. CSRF .. "&identifier=" .. address .. "&website="
  return wrk.format("POST", nil, headers, body)
end
"""


@dataclass(frozen=True)
class Target:
    """One row of the table: a name, the URL wrk loads and, for POSTs, its Lua script."""

    name: str
    url: str
    script: str | None = None  # Lua without TAG (set per run by script_for)


def lua_string(value: str) -> str:
    """A Lua string literal; JSON's escapes are a subset of Lua's for these values."""
    return json.dumps(value)


def script_for(target: Target, work: Path) -> Path | None:
    """Write the target's script with a fresh TAG, so no address repeats across runs."""
    if target.script is None:
        return None
    path = work / f"{target.name.replace('/', '_').strip('_')}.lua"
    tag = f"TAG = {lua_string(secrets.token_hex(4))}\n"
    path.write_text(tag + target.script, encoding="utf-8")
    return path


def form_session(service_url: str) -> tuple[str, str]:
    """(Cookie header, CSRF token) from one GET of the form, as a browser would get them."""
    with requests.Session() as session:
        session.trust_env = False
        answer = session.get(service_url + FORM_PATH, timeout=TIMEOUT)
        answer.raise_for_status()
        cookies = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    marker = f'name="{CSRF_FIELD}" value="'
    start = answer.text.find(marker)
    if start < 0 or not cookies:
        raise RuntimeError(f"GET {FORM_PATH} gave no CSRF token or cookie")
    start += len(marker)
    return cookies, answer.text[start : answer.text.index('"', start)]


def form_script(cookie: str, token: str) -> str:
    return f"COOKIE = {lua_string(cookie)}\nCSRF = {lua_string(token)}\n" + LUA_COMMON + LUA_FORM


def targets(bare_url: str, service_url: str) -> list[Target]:
    """The four rows, bare first (every ratio is to it)."""
    cookie, token = form_session(service_url)
    return [
        Target("GET /bare (bare FastAPI)", bare_url + "/bare"),
        Target("GET /healthz", service_url + "/healthz"),
        Target(f"POST {API_PATH}", service_url + API_PATH, LUA_COMMON + LUA_API),
        Target(f"POST {FORM_PATH}", service_url + FORM_PATH, form_script(cookie, token)),
    ]


def check_by_hand(bare_url: str, service_url: str) -> None:
    """One request of each kind answers as in normal use; RuntimeError naming the first that
    does not (a 400/403 would make wrk measure refusals)."""
    with requests.Session() as session:
        session.trust_env = False
        expect(session.get(bare_url + "/bare", timeout=TIMEOUT), 200, '"ok":true')
        expect(session.get(service_url + "/healthz", timeout=TIMEOUT), 200, '"status":"ok"')
        body = {"identifier": f"tp-check-{secrets.token_hex(4)}@bench.example"}
        answer = session.post(service_url + API_PATH, json=body, timeout=TIMEOUT)
        expect(answer, 202, '"result":"success"')
        cookie, token = form_session(service_url)
        address = quote(f"tp-check-{secrets.token_hex(4)}@bench.example")
        answer = session.post(
            service_url + FORM_PATH,
            data=f"{CSRF_FIELD}={token}&identifier={address}&website=",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
            timeout=TIMEOUT,
        )
        expect(answer, 200, SENT_MARK)


def expect(answer: requests.Response, status: int, mark: str) -> None:
    request = answer.request
    if answer.status_code != status or mark not in answer.text:
        raise RuntimeError(
            f"{request.method} {request.path_url} answered {answer.status_code}"
            f" (expected {status} with {mark!r}): {answer.text[:120]!r}"
        )

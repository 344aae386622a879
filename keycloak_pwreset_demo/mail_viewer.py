"""A tiny web page listing the SMTP sink's messages, so demo users can follow their links.

Everything shown comes from email senders and is untrusted: all of it is HTML-escaped, only
http(s) URLs become links, and a strict Content-Security-Policy forbids scripts outright.
"""

import html
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from keycloak_pwreset_demo.ports import LOOPBACK
from keycloak_pwreset_demo.received_mail import ReceivedMail

_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING_PUNCTUATION = ".,;:!?)]}"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">{refresh}<title>{title}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em .8em;text-align:left}}
pre{{white-space:pre-wrap;background:#f6f6f6;padding:1em}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Reset links carry tokens: never leak them to the next site in a Referer header.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def linkify(text: str) -> str:
    """HTML-escape ``text`` and turn each http(s) URL in it into a link."""
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(_TRAILING_PUNCTUATION)
        end = match.start() + len(url)
        parts.append(html.escape(text[position : match.start()]))
        escaped = html.escape(url, quote=True)
        parts.append(f'<a href="{escaped}" rel="noreferrer noopener">{escaped}</a>')
        position = end
    parts.append(html.escape(text[position:]))
    return "".join(parts)


def render_list(messages: list[ReceivedMail]) -> str:
    """The index page: newest message first."""
    rows = []
    for number in range(len(messages), 0, -1):
        mail = messages[number - 1]
        cells = [
            mail.received_at.strftime("%H:%M:%S"),
            html.escape(mail.header("From") or mail.mail_from),
            html.escape(", ".join(mail.rcpt_tos)),
            f'<a href="/message/{number}">{html.escape(mail.subject or "(no subject)")}</a>',
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    if not rows:
        return "<p>No mail yet. This page refreshes itself.</p>"
    head = "<tr><th>Time (UTC)</th><th>From</th><th>To</th><th>Subject</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def render_message(mail: ReceivedMail) -> str:
    """One message: envelope, all headers, and the text body with clickable links."""
    lines = [("Envelope from", mail.mail_from), ("Envelope to", ", ".join(mail.rcpt_tos))]
    lines += [(name, str(value)) for name, value in mail.message.items()]
    table = "".join(
        f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in lines
    )
    body = mail.text_body() or "(no text/plain part)"
    return f'<p><a href="/">All mail</a></p><table>{table}</table><pre>{linkify(body)}</pre>'


class MessageSource(Protocol):
    """Anything with the sink's ``messages`` (oldest first): the SmtpSink, or a test fake."""

    @property
    def messages(self) -> list[ReceivedMail]: ...


class MailViewer:
    """Serve the pages on ``http://127.0.0.1:PORT`` from a daemon thread."""

    def __init__(self, source: MessageSource, *, port: int = 0) -> None:
        self._source = source
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        port = self._server.server_address[1] if self._server is not None else self._port
        return f"http://{LOOPBACK}:{port}"

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer((LOOPBACK, self._port), _handler_for(self._source))
        self._server.daemon_threads = True
        self._port = int(self._server.server_address[1])  # keep it across stop/start
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="mail-viewer", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _handler_for(source: MessageSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            current = source.messages
            if path == "/":
                self._send(HTTPStatus.OK, "Received mail", render_list(current), refresh=True)
                return
            match = re.fullmatch(r"/message/(\d+)", path)
            if match and 1 <= int(match.group(1)) <= len(current):
                mail = current[int(match.group(1)) - 1]
                self._send(HTTPStatus.OK, mail.subject or "(no subject)", render_message(mail))
                return
            self._send(HTTPStatus.NOT_FOUND, "Not found", '<p><a href="/">All mail</a></p>')

        def _send(self, status: HTTPStatus, title: str, body: str, refresh: bool = False) -> None:
            page = _PAGE.format(
                title=html.escape(title),
                body=body,
                refresh='<meta http-equiv="refresh" content="5">' if refresh else "",
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            for name, value in _HEADERS.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep the demo's terminal for the URLs that matter

    return Handler

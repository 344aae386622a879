"""Audit events: one structured log line per security-relevant step.

Fields are the event name, the account id where known and the client
address; never a token, a password, a secret or the text of an email. With
KCPR_LOG_FORMAT=json every line is a JSON object a log shipper can index.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("keycloak_pwreset.audit")

# Fields a record may carry into the JSON output; nothing else is copied, so a
# stray `extra` can never smuggle a secret into the logs.
# by: who acted (an operator: "cli"); item: the link or outbox job acted on.
AUDIT_FIELDS = (
    "event",
    "account_id",
    "client",
    "kind",
    "limit",
    "path",
    "locale",
    "reason",
    "by",
    "item",
)


def audit(event: str, **fields: str | None) -> None:
    data = {k: v for k, v in fields.items() if v}
    text = " ".join(f"{k}={v}" for k, v in data.items())
    log.info("%s %s", event, text, extra={"event": event, **data})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in AUDIT_FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Log to stderr as text or JSON; calling it again replaces only our own handler.

    Handlers someone else installed (a test runner's capture, an embedding
    application's) are left alone, and then ours is not added at all.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_kcpr", False)]:
        root.removeHandler(handler)
    if not root.handlers:
        handler = logging.StreamHandler()
        handler._kcpr = True  # type: ignore[attr-defined]
        if fmt == "json":
            handler.setFormatter(JsonFormatter())
        else:
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries' chatter (every migration step, every SMTP connection of the
    # demo's mail sink, urllib3's retry notes before our own one-line error)
    # would drown the lines a person needs to read.
    for noisy in ("alembic", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.ERROR)

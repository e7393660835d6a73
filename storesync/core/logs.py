"""Process logging for the app's backend (`storesync run`) and the workers: one stderr handler
at `STORESYNC_LOG_LEVEL`, as text (time, level, process/thread, logger) or, with
`STORESYNC_LOG_FORMAT=json`, one JSON object per line (time, level, logger, message and the
organization, store, job and request id the work is bound to). Secrets are kept out by the
marketplace layer's filter (`storesync.channels.logs`), which start-up installs
(`workers.wiring`). Without this, only warnings reached the output, as bare messages."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

FORMAT = "%(asctime)s %(levelname)s [%(process)d %(threadName)s] %(name)s: %(message)s"
FORMATS = ("text", "json")
BOUND_FIELDS = ("organization", "store", "job", "request_id")
_HANDLER_NAME = "storesync"
_bound: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "log_fields", default=()
)


@contextlib.contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Every log line written inside names these (`organization`, `store`, `job`,
    `request_id`); nested bindings add to the outer ones."""
    merged = {**dict(_bound.get()), **{k: str(v) for k, v in fields.items() if v}}
    token = _bound.set(tuple(merged.items()))
    try:
        yield
    finally:
        _bound.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the message is formatted (and already redacted by the
    filters) before it is written."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        for name in BOUND_FIELDS:
            value = getattr(record, name, None) or dict(_bound.get()).get(name)
            if value:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str, fmt: str = "text") -> logging.Handler:
    """Idempotent: a second call only changes the level and format. Every marketplace request
    (httpx, at INFO) is logged at DEBUG only: at INFO the embedded demo's traffic would drown
    the rest."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(FORMAT))
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(
        logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    )
    return handler

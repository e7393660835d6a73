"""Process logging for the app's backend (`storesync run`): one stderr handler with time, level
and logger name, at `STORESYNC_LOG_LEVEL`. Secrets are kept out by the marketplace layer's filter
(`storesync.channels.logs`), which start-up installs (`workers.wiring`). Dramatiq workers
configure their own. Without this, only warnings reached the output, as bare messages."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s [%(process)d %(threadName)s] %(name)s: %(message)s"
_HANDLER_NAME = "storesync"


def configure_logging(level: str) -> logging.Handler:
    """Idempotent: a second call only changes the level. Every marketplace request (httpx, at
    INFO) is logged at DEBUG only: at INFO the embedded demo's traffic would drown the rest."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(
        logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    )
    return handler

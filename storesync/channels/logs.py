"""Marketplace HTTP logs without secrets.

httpx logs every request URL at INFO, and the platforms put secrets in query strings (Shopee's
access token and signature; TikTok's app secret, auth code and refresh token on token calls).
One filter hides their values before any handler sees a record; httpcore's DEBUG traces (raw
headers, e.g. an OAuth redirect's code) are kept off.
"""

from __future__ import annotations

import logging
import re

import httpx

SECRET_PARAMS = re.compile(
    r"((?:access_token|refresh_token|app_secret|partner_key|auth_code|code|sign)=)[^&\s\"']+"
)


def redact(text: str) -> str:
    """`text` with the values of secret query parameters hidden."""
    return SECRET_PARAMS.sub(r"\1<hidden>", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                redact(str(arg)) if isinstance(arg, httpx.URL | str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_log_redaction() -> None:
    """Once per process (idempotent)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
    # Filters do not apply to child loggers; httpcore's traces all live in children.
    logging.getLogger("httpcore").setLevel(logging.WARNING)

"""Embedded mode's stand-in for an SMTP server: each message becomes one `.eml` file in
`var/mail/`, which the sandbox's "Sent mail" page lists."""

from __future__ import annotations

import contextlib
import os
import tempfile
from email.message import EmailMessage
from pathlib import Path


def write_eml(message: EmailMessage, directory: Path, *, name: str) -> Path:
    """Write `message` as `directory/name`, readable by its owner only (invitation and reset
    links are secrets). Atomic: a reader sees the whole file or none of it."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")  # 0600
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(message.as_bytes())
            out.flush()
            os.fsync(out.fileno())
        final = directory / name
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return final

"""Objects as files under one folder (embedded mode: `var/media/`).

`<root>/<key>` holds the bytes exactly as given; the content type sits beside it in
`<root>/<dir>/.<name>.meta` (one line). No key part starts with '.', so these files, and the
`.*.tmp` files a write goes through, can never be addressed as objects. Each file is written
whole to a temporary file, flushed and renamed over the old one, so a reader sees the old
version or the new one. The bytes are renamed into place last: an object is there once its
content type is.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import tempfile
from pathlib import Path

from storesync.core.errors import ValidationFailed
from storesync.storage.errors import ObjectNotFound
from storesync.storage.keys import check_content_type, check_key
from storesync.storage.protocol import StoredObject

FALLBACK_CONTENT_TYPE = "application/octet-stream"


class LocalStorage:
    """`Storage` on the local file system under `root` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        content_type = check_content_type(content_type)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomically(_meta_path(path), f"{content_type}\n".encode())
        _write_atomically(path, bytes(data))

    def get(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        return StoredObject(data=data, content_type=_content_type(path))

    def delete(self, key: str) -> None:
        path = self._path(key)
        for victim in (path, _meta_path(path)):  # the bytes first: no object without its type
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                victim.unlink()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*check_key(key).split("/"))
        # check_key already rules out '..'; this keeps a future change to it from escaping.
        if not path.is_relative_to(self.root):
            raise AssertionError(f"key {key!r} escapes the storage root")
        return path


def _meta_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.meta")


def _content_type(path: Path) -> str:
    """The type stored beside the file; for a file put there by hand, a guess from its name."""
    try:
        return check_content_type(_meta_path(path).read_text().strip())
    except (OSError, ValidationFailed):
        guessed, _encoding = mimetypes.guess_type(path.name)
        return guessed or FALLBACK_CONTENT_TYPE


def _write_atomically(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise

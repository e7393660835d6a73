"""File storage (product images): `get_storage()` is S3-compatible object storage when
`STORESYNC_STORAGE_URL` is set, else var/media/ in embedded mode; `images` checks uploads.

Imports only `storesync.settings` and `storesync.core`; catalog, ui and everything above may use it.
"""

from storesync.storage.errors import ObjectNotFound, StorageNotConfigured, StorageUnavailable
from storesync.storage.keys import check_key, organization_of, product_image_key
from storesync.storage.local import LocalStorage
from storesync.storage.protocol import Storage, StoredObject
from storesync.storage.service import get_storage

__all__ = [
    "LocalStorage",
    "ObjectNotFound",
    "Storage",
    "StorageNotConfigured",
    "StorageUnavailable",
    "StoredObject",
    "check_key",
    "get_storage",
    "organization_of",
    "product_image_key",
]

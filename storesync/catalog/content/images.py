"""A product's pictures: upload (bytes or a public URL), order, main image, delete.

`Product.images` is an ordered JSON list; the first entry is the main image. A stored image is
`{"id", "key", "thumb_key", "width", "height", "alt"}` with its full size and thumbnail in
object storage; older rows and the CSV importer keep bare URLs, which the DTO reads as
`{"id", "url"}`. Stored objects are written before the row (a rolled-back upload leaves an
unreferenced object behind, which is harmless) and deleted only after the commit that dropped
their entry.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import sqlalchemy as sa
from sqlmodel import Session

from storesync.catalog.models import Product, ProductVariant
from storesync.catalog.schemas import ProductDTO, ProductImageDTO, image_entry
from storesync.catalog.service import get_product, load_product
from storesync.core.clock import utcnow
from storesync.core.errors import AppError, ErrorType, NotFound, ValidationFailed
from storesync.core.models import table_of
from storesync.storage import Storage, get_storage, product_image_key
from storesync.storage.images import prepare_image
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.permissions import Permission

VARIANTS = table_of(ProductVariant)
MAX_IMAGES = 20
MAX_ALT = 255
URL_TIMEOUT_SECONDS = 10.0
URL_MAX_BYTES = 10 * 1024 * 1024
URL_MAX_REDIRECTS = 3
_PENDING_DELETES = "catalog_image_deletes"

log = logging.getLogger(__name__)
Resolver = Callable[[str, int], Sequence[str]]


def _storage(storage: Storage | None) -> Storage:
    return storage if storage is not None else get_storage()


def _image_list(product: Product) -> list[dict[str, Any]]:
    return [image_entry(raw) for raw in product.images or []]


def _save_images(
    session: Session,
    ctx: RequestContext,
    product: Product,
    images: list[dict[str, Any]],
    change: str,
    data: dict[str, Any],
) -> ProductDTO:
    before = [i["id"] for i in _image_list(product)]
    product.images = images
    product.updated_at = utcnow()
    session.add(product)
    record(
        session,
        ctx=ctx,
        action="product.update",
        entity_type="product",
        entity_id=product.id,
        before={"images": before},
        after={"images": [i["id"] for i in images], "image_change": change, **data},
    )
    session.flush()
    return get_product(session, ctx=ctx, product_id=product.id)


def add_image(
    session: Session,
    *,
    ctx: RequestContext,
    product_id: uuid.UUID,
    data: bytes,
    alt: str = "",
    storage: Storage | None = None,
) -> ProductDTO:
    """Check the picture (`prepare_image` refuses a bad or oversized file with an `AppError`),
    store it at full size and as a thumbnail, and append it to the product's images (the first
    image becomes the main one). At most 20 images. Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    if len(alt) > MAX_ALT:
        raise ValidationFailed("alt", f"must be at most {MAX_ALT} characters")
    product = load_product(session, ctx=ctx, product_id=product_id)
    images = _image_list(product)
    if len(images) >= MAX_IMAGES:
        raise ValidationFailed("images", f"a product has at most {MAX_IMAGES} images")
    prepared = prepare_image(data)
    image_uuid = uuid.uuid4()
    image_id = str(image_uuid)
    key = product_image_key(
        organization_id=ctx.organization_id, product_id=product.id, image_id=image_uuid
    )
    thumb_key = product_image_key(
        organization_id=ctx.organization_id,
        product_id=product.id,
        image_id=image_uuid,
        thumbnail=True,
    )
    entry = {
        "id": image_id,
        "key": key,
        "thumb_key": thumb_key,
        "width": int(prepared.width),
        "height": int(prepared.height),
        "alt": alt.strip(),
    }
    store = _storage(storage)
    store.put(key, prepared.full, prepared.content_type)
    store.put(thumb_key, prepared.thumbnail, prepared.content_type)
    return _save_images(session, ctx, product, [*images, entry], "add", {"added": image_id})


def add_image_from_url(
    session: Session,
    *,
    ctx: RequestContext,
    product_id: uuid.UUID,
    url: str,
    alt: str = "",
    storage: Storage | None = None,
    transport: httpx.BaseTransport | None = None,
    resolve: Resolver | None = None,
) -> ProductDTO:
    """Download a picture from a public http(s) URL and add it as `add_image` does. Refuses
    other schemes and hosts that resolve to a private, loopback, link-local or otherwise
    non-public address (at every redirect, at most 3); 10 s timeout, 10 MB cap."""
    ctx.require(Permission.MANAGE_CATALOG)
    load_product(session, ctx=ctx, product_id=product_id)  # NotFound before any download
    data = fetch_image(url, transport=transport, resolve=resolve)
    return add_image(session, ctx=ctx, product_id=product_id, data=data, alt=alt, storage=storage)


def reorder_images(
    session: Session, *, ctx: RequestContext, product_id: uuid.UUID, image_ids: Sequence[str]
) -> ProductDTO:
    """Put the images in the order of `image_ids`, which must name each image exactly once.
    Needs MANAGE_CATALOG."""
    ctx.require(Permission.MANAGE_CATALOG)
    product = load_product(session, ctx=ctx, product_id=product_id)
    images = _image_list(product)
    by_id = {i["id"]: i for i in images}
    if sorted(image_ids) != sorted(by_id) or len(set(image_ids)) != len(image_ids):
        raise ValidationFailed(
            "image_ids",
            "must list each of the product's images exactly once",
            given=list(image_ids),
        )
    ordered = [by_id[i] for i in image_ids]
    return _save_images(session, ctx, product, ordered, "reorder", {})


def set_main_image(
    session: Session, *, ctx: RequestContext, product_id: uuid.UUID, image_id: str
) -> ProductDTO:
    """Make `image_id` the main (first) image; the others keep their order."""
    ctx.require(Permission.MANAGE_CATALOG)
    product = load_product(session, ctx=ctx, product_id=product_id)
    images = _image_list(product)
    chosen = _find(images, image_id)
    ordered = [chosen, *(i for i in images if i["id"] != image_id)]
    return _save_images(session, ctx, product, ordered, "main", {"main": image_id})


def move_image(
    session: Session, *, ctx: RequestContext, product_id: uuid.UUID, image_id: str, offset: int
) -> ProductDTO:
    """Move an image `offset` places (-1: one to the left), clamped to the ends."""
    ctx.require(Permission.MANAGE_CATALOG)
    product = load_product(session, ctx=ctx, product_id=product_id)
    ids = [i["id"] for i in _image_list(product)]
    _find(_image_list(product), image_id)
    position = max(0, min(len(ids) - 1, ids.index(image_id) + offset))
    ids.remove(image_id)
    ids.insert(position, image_id)
    return reorder_images(session, ctx=ctx, product_id=product_id, image_ids=ids)


def delete_image(
    session: Session,
    *,
    ctx: RequestContext,
    product_id: uuid.UUID,
    image_id: str,
    storage: Storage | None = None,
) -> ProductDTO:
    """Remove an image from the product; its stored objects are deleted once the transaction
    commits (a failed delete leaves an unreferenced object, never a broken product)."""
    ctx.require(Permission.MANAGE_CATALOG)
    product = load_product(session, ctx=ctx, product_id=product_id)
    images = _image_list(product)
    gone = _find(images, image_id)
    keys = [k for k in (gone.get("key"), gone.get("thumb_key")) if k]
    if keys:
        _delete_after_commit(session, _storage(storage), keys)
    rest = [i for i in images if i["id"] != image_id]
    # The variants that showed it fall back to the product's main image.
    session.execute(
        sa.update(VARIANTS)
        .where(
            VARIANTS.c.organization_id == ctx.organization_id,
            VARIANTS.c.product_id == product.id,
            VARIANTS.c.image_id == image_id,
        )
        .values(image_id="")
    )
    return _save_images(session, ctx, product, rest, "delete", {"deleted": image_id})


def _find(images: list[dict[str, Any]], image_id: str) -> dict[str, Any]:
    found = next((i for i in images if i["id"] == image_id), None)
    if found is None:
        raise NotFound("image", image_id)
    return found


def _delete_after_commit(session: Session, store: Storage, keys: list[str]) -> None:
    # Listeners stay for the session's life (removing one while it runs is not allowed).
    if not sa.event.contains(session, "after_commit", _run_deletes):
        sa.event.listen(session, "after_commit", _run_deletes)
        sa.event.listen(session, "after_rollback", _drop_deletes)
    session.info.setdefault(_PENDING_DELETES, []).extend((store, key) for key in keys)


def _run_deletes(session: Session) -> None:
    if session.in_nested_transaction():
        return
    for store, key in session.info.pop(_PENDING_DELETES, []):
        try:
            store.delete(key)
        except Exception:
            # A leftover object is harmless: the row no longer points at it.
            log.warning("could not delete stored image %s", key, exc_info=True)


def _drop_deletes(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.info.pop(_PENDING_DELETES, None)


# Fetching a picture from a URL ----------------------------------------------------------


class UrlRefused(AppError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            ErrorType.VALIDATION,
            "image_url_refused",
            f"url: {reason}",
            details={"field": "url", "url": url, "reason": reason},
        )


def _system_resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return [str(info[4][0]) for info in infos]


def _check_url(url: str, resolve: Resolver) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(url, "must start with http:// or https://")
    host = parts.hostname
    if not host:
        raise UrlRefused(url, "has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise UrlRefused(url, f"the host {host} was not found")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            raise UrlRefused(url, f"the host {host} is not a public address")


def fetch_image(
    url: str,
    *,
    transport: httpx.BaseTransport | None = None,
    resolve: Resolver | None = None,
) -> bytes:
    """The bytes at a public http(s) URL (see `add_image_from_url` for what is refused).

    The host is checked by resolving it before each request; a DNS answer that changes between
    the check and the connection (rebinding) is not caught here."""
    resolver = resolve or _system_resolve
    url = url.strip()
    with httpx.Client(
        transport=transport, timeout=URL_TIMEOUT_SECONDS, follow_redirects=False
    ) as client:
        for _ in range(URL_MAX_REDIRECTS + 1):
            _check_url(url, resolver)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise UrlRefused(url, f"the server answered {response.status_code}")
                    return _read_capped(url, response)
            except httpx.HTTPError as error:
                raise AppError(
                    ErrorType.NETWORK,
                    "image_url_unreachable",
                    f"url: could not download the image ({type(error).__name__})",
                    details={"field": "url", "url": url},
                ) from None
    raise UrlRefused(url, f"more than {URL_MAX_REDIRECTS} redirects")


def _read_capped(url: str, response: httpx.Response) -> bytes:
    too_big = f"the image is larger than {URL_MAX_BYTES // (1024 * 1024)} MB"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > URL_MAX_BYTES:
        raise UrlRefused(url, too_big)
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > URL_MAX_BYTES:
            raise UrlRefused(url, too_big)
    return bytes(body)


def thumbnails_of_skus(
    session: Session, *, ctx: RequestContext, skus: Sequence[str]
) -> dict[str, str]:
    """SKU → the address of its picture's thumbnail (the variant's own image, else its
    product's main one), for the SKUs that have one. Needs READ."""
    ctx.require(Permission.READ)
    wanted = sorted({sku for sku in skus if sku})
    if not wanted:
        return {}
    products = table_of(Product)
    rows = session.execute(
        sa.select(VARIANTS.c.variant_sku, VARIANTS.c.image_id, products.c.images)
        .join(products, products.c.id == VARIANTS.c.product_id)
        .where(
            VARIANTS.c.organization_id == ctx.organization_id,
            VARIANTS.c.variant_sku.in_(wanted),
        )
    ).all()
    found: dict[str, str] = {}
    for sku, image_id, raw_images in rows:
        gallery = [image_entry(raw) for raw in raw_images or []]
        if not gallery:
            continue
        own = next((image for image in gallery if image["id"] == image_id), gallery[0])
        found[sku] = ProductImageDTO.model_validate(own).thumb_src
    return found

"""Product images: upload, order, main image, delete, import from a URL (public addresses only)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from storesync.catalog import exporter, importer
from storesync.catalog import service as catalog
from storesync.catalog.content import images
from storesync.catalog.schemas import ProductDTO, ProductUpdate, VariantInput, VariantUpdate
from storesync.core.errors import AppError, NotFound, PermissionDenied, ValidationFailed
from storesync.db import session_scope
from storesync.storage import LocalStorage
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import AuditLog
from tests.catalog.conftest import new_org, viewer_of

PUBLIC_IP = "93.184.216.34"


def png(width: int = 64, height: int = 48, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media")


@pytest.fixture
def product(engine: Engine, owner: RequestContext) -> ProductDTO:
    with session_scope(owner, engine=engine) as session:
        return catalog.create_product(
            session, ctx=owner, title="Blue mug", sku=f"MUG-{uuid.uuid4().hex[:6]}"
        )


def upload(
    engine: Engine, ctx: RequestContext, product: ProductDTO, storage: LocalStorage, **kw: object
) -> ProductDTO:
    with session_scope(ctx, engine=engine) as session:
        return images.add_image(
            session,
            ctx=ctx,
            product_id=product.id,
            data=kw.pop("data", png()),  # type: ignore[arg-type]
            storage=storage,
            **kw,  # type: ignore[arg-type]
        )


def audit_changes(
    engine: Engine, ctx: RequestContext, entity_id: uuid.UUID
) -> list[tuple[str, str | None]]:
    """(action, image change) of the audit rows about one product, oldest first."""
    with session_scope(ctx, engine=engine) as session:
        rows = session.exec(
            select(AuditLog)
            .where(AuditLog.organization_id == ctx.organization_id)
            .order_by(col(AuditLog.created_at), col(AuditLog.id))
        ).all()
        return [
            (r.action, ((r.data or {}).get("after") or {}).get("image_change"))
            for r in rows
            if str(r.entity_id) == str(entity_id)
        ]


def test_an_uploaded_png_is_stored_full_size_and_as_a_thumbnail(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    done = upload(engine, owner, product, storage, data=png(800, 600), alt="front")

    (image,) = done.gallery
    assert image.key == f"{owner.organization_id}/products/{product.id}/{image.id}.webp"
    assert storage.exists(image.key) and storage.exists(image.thumb_key)
    assert (image.width, image.height, image.alt) == (800, 600, "front")
    assert len(storage.get(image.thumb_key).data) < len(storage.get(image.key).data)
    assert done.images == [f"/media/{image.key}"]
    assert done.main_image == image


def test_images_keep_their_order_and_can_be_reordered_and_made_main(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    for color in ("red", "green", "blue"):
        done = upload(engine, owner, product, storage, data=png(color=color))
    first, second, third = (i.id for i in done.gallery)

    with session_scope(owner, engine=engine) as session:
        reordered = images.reorder_images(
            session, ctx=owner, product_id=product.id, image_ids=[third, first, second]
        )
        main = images.set_main_image(session, ctx=owner, product_id=product.id, image_id=second)
        moved = images.move_image(
            session, ctx=owner, product_id=product.id, image_id=third, offset=1
        )

    assert [i.id for i in reordered.gallery] == [third, first, second]
    assert [i.id for i in main.gallery] == [second, third, first]
    assert [i.id for i in moved.gallery] == [second, first, third]
    with session_scope(owner, engine=engine) as session:
        assert [
            i.id for i in catalog.get_product(session, ctx=owner, product_id=product.id).gallery
        ] == [
            second,
            first,
            third,
        ]


@pytest.mark.parametrize(
    "ids",
    [lambda a, b: [a], lambda a, b: [a, a], lambda a, b: [a, b, "other"], lambda a, b: [a, "x"]],
)
def test_a_reorder_must_name_every_image_once(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage, ids
) -> None:
    upload(engine, owner, product, storage)
    done = upload(engine, owner, product, storage)
    a, b = (i.id for i in done.gallery)

    with pytest.raises(ValidationFailed) as refused, session_scope(owner, engine=engine) as session:
        images.reorder_images(session, ctx=owner, product_id=product.id, image_ids=ids(a, b))

    assert refused.value.details["field"] == "image_ids"
    with session_scope(owner, engine=engine) as session:
        assert [
            i.id for i in catalog.get_product(session, ctx=owner, product_id=product.id).gallery
        ] == [a, b]


def test_deleting_an_image_removes_its_stored_objects(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    upload(engine, owner, product, storage)
    done = upload(engine, owner, product, storage)
    gone, kept = done.gallery[0], done.gallery[1]

    with session_scope(owner, engine=engine) as session:
        after = images.delete_image(
            session, ctx=owner, product_id=product.id, image_id=gone.id, storage=storage
        )
        # Not before the commit: a rollback must leave the product's image intact.
        assert storage.exists(gone.key)

    assert [i.id for i in after.gallery] == [kept.id]
    assert not storage.exists(gone.key) and not storage.exists(gone.thumb_key)
    assert storage.exists(kept.key) and storage.exists(kept.thumb_key)


def test_a_rolled_back_delete_keeps_the_objects(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    image = upload(engine, owner, product, storage).gallery[0]

    with pytest.raises(RuntimeError), session_scope(owner, engine=engine) as session:
        images.delete_image(
            session, ctx=owner, product_id=product.id, image_id=image.id, storage=storage
        )
        raise RuntimeError("something later in the same transaction failed")

    assert storage.exists(image.key)
    with session_scope(owner, engine=engine) as session:
        assert catalog.get_product(session, ctx=owner, product_id=product.id).gallery == [image]


def test_a_product_has_at_most_twenty_images(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    small = png(8, 8)
    for _ in range(images.MAX_IMAGES):
        upload(engine, owner, product, storage, data=small)

    with pytest.raises(ValidationFailed) as refused:
        upload(engine, owner, product, storage, data=small)

    assert refused.value.details["field"] == "images"


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_stored(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    with pytest.raises(AppError):
        upload(engine, owner, product, storage, data=b"%PDF-1.4 not a picture")

    with session_scope(owner, engine=engine) as session:
        assert catalog.get_product(session, ctx=owner, product_id=product.id).gallery == []
    assert not (storage.root).exists() or not any(storage.root.rglob("*.webp"))


def test_image_changes_are_audited_and_need_the_catalog_permission(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    done = upload(engine, owner, product, storage)
    image_id = done.gallery[0].id
    with session_scope(owner, engine=engine) as session:
        images.set_main_image(session, ctx=owner, product_id=product.id, image_id=image_id)
        images.delete_image(
            session, ctx=owner, product_id=product.id, image_id=image_id, storage=storage
        )

    with pytest.raises(PermissionDenied), session_scope(owner, engine=engine) as session:
        images.add_image(
            session, ctx=viewer_of(owner), product_id=product.id, data=png(), storage=storage
        )
    with pytest.raises(NotFound), session_scope(owner, engine=engine) as session:
        images.set_main_image(session, ctx=owner, product_id=product.id, image_id="nope")

    assert audit_changes(engine, owner, product.id) == [
        ("product.create", None),
        ("product.update", "add"),
        ("product.update", "main"),
        ("product.update", "delete"),
    ]


def test_setting_url_images_keeps_the_stored_ones(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    stored = upload(engine, owner, product, storage).gallery[0]

    with session_scope(owner, engine=engine) as session:
        done = catalog.update_product(
            session,
            ctx=owner,
            product_id=product.id,
            changes=ProductUpdate(images=["https://img.example.com/a.jpg"]),
        )

    assert done.images == [f"/media/{stored.key}", "https://img.example.com/a.jpg"]


# From a URL -------------------------------------------------------------------------------


def serving(routes: dict[str, httpx.Response]) -> httpx.MockTransport:
    """An HTTP server in memory (httpx's own transport): no test reaches the internet."""

    def handle(request: httpx.Request) -> httpx.Response:
        return routes.get(str(request.url), httpx.Response(404))

    return httpx.MockTransport(handle)


def public(host: str, port: int) -> list[str]:
    return [PUBLIC_IP]


def test_an_image_from_a_public_url_is_downloaded_and_stored(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    transport = serving(
        {
            "https://cdn.example.com/a.png": httpx.Response(301, headers={"location": "/b.png"}),
            "https://cdn.example.com/b.png": httpx.Response(200, content=png(30, 20)),
        }
    )

    with session_scope(owner, engine=engine) as session:
        done = images.add_image_from_url(
            session,
            ctx=owner,
            product_id=product.id,
            url="https://cdn.example.com/a.png",
            storage=storage,
            transport=transport,
            resolve=public,
        )

    (image,) = done.gallery
    assert (image.width, image.height) == (30, 20)
    assert storage.exists(image.key)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "http://10.1.2.3/a.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/a.png",
        "http://192.168.0.10/a.png",
        "http://0.0.0.0/a.png",
        "ftp://cdn.example.com/a.png",
        "file:///etc/passwd",
        "javascript:alert(1)",
    ],
)
def test_urls_that_are_not_public_http_are_refused(url: str) -> None:
    with pytest.raises(AppError) as refused:
        # The real resolver: literal addresses resolve to themselves, without a network.
        images.fetch_image(url, transport=serving({}))

    assert refused.value.code == "image_url_refused"
    assert refused.value.details["field"] == "url"


def test_a_host_name_that_resolves_to_a_private_address_is_refused() -> None:
    with pytest.raises(AppError) as refused:
        images.fetch_image(
            "http://intranet.example.com/a.png",
            transport=serving({"http://intranet.example.com/a.png": httpx.Response(200)}),
            resolve=lambda host, port: [PUBLIC_IP, "10.0.0.5"],
        )

    assert "not a public address" in refused.value.message


def test_a_redirect_to_a_private_address_is_refused() -> None:
    transport = serving(
        {
            "https://cdn.example.com/a.png": httpx.Response(
                302, headers={"location": "http://127.0.0.1:8000/admin"}
            )
        }
    )

    with pytest.raises(AppError) as refused:
        images.fetch_image("https://cdn.example.com/a.png", transport=transport, resolve=public)

    assert refused.value.details["url"] == "http://127.0.0.1:8000/admin"


def test_more_than_three_redirects_are_refused() -> None:
    hops = {
        f"https://cdn.example.com/{n}": httpx.Response(302, headers={"location": f"/{n + 1}"})
        for n in range(5)
    }

    with pytest.raises(AppError, match="redirects"):
        images.fetch_image("https://cdn.example.com/0", transport=serving(hops), resolve=public)


def test_a_download_larger_than_ten_megabytes_is_refused() -> None:
    big = b"\0" * (images.URL_MAX_BYTES + 1)

    def chunked(request: httpx.Request) -> httpx.Response:
        # No content-length: the cap must hold while reading.
        return httpx.Response(200, content=iter([big[:4_000_000], big[4_000_000:]]))

    with pytest.raises(AppError, match="larger than 10 MB"):
        images.fetch_image(
            "https://cdn.example.com/huge.png",
            transport=httpx.MockTransport(chunked),
            resolve=public,
        )


def test_a_csv_export_and_import_keep_uploaded_images(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    stored = upload(engine, owner, product, storage).gallery[0]
    out = io.StringIO()
    with session_scope(owner, engine=engine) as session:
        exporter.export_catalog(session, ctx=owner, out=out)
    exported = out.getvalue()
    assert "/media/" not in exported  # not an importable URL
    sku = product.variants[0].sku
    text = (
        f"handle,title,sku,images\n{product.handle},Blue mug,{sku},https://img.example.com/a.jpg\n"
    )

    with session_scope(owner, engine=engine) as session:
        report = importer.import_catalog(session, ctx=owner, source=io.StringIO(text))
        done = catalog.get_product(session, ctx=owner, product_id=product.id)

    assert report.errors == []
    assert done.images == [f"/media/{stored.key}", "https://img.example.com/a.jpg"]


def test_a_variant_shows_one_of_its_products_images_until_that_image_is_deleted(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    upload(engine, owner, product, storage, data=png(color="red"))
    shown = upload(engine, owner, product, storage, data=png(color="blue"))
    first, second = (image.id for image in shown.gallery)
    variant = shown.variants[0]
    with session_scope(owner, engine=engine) as session:
        other = catalog.create_product(session, ctx=owner, title="Plate", sku="PLATE-1")

    with session_scope(owner, engine=engine) as session:
        changed = catalog.update_variant(
            session, ctx=owner, variant_id=variant.id, changes=VariantUpdate(image_id=second)
        )
    assert changed.image_id == second

    # Another product's image, or one that does not exist, is refused and changes nothing.
    for wrong in (str(other.id), "no-such-image"):
        with pytest.raises(ValidationFailed) as refused:
            with session_scope(owner, engine=engine) as session:
                catalog.update_variant(
                    session, ctx=owner, variant_id=variant.id, changes=VariantUpdate(image_id=wrong)
                )
        assert refused.value.details["field"] == "image_id"
    with session_scope(owner, engine=engine) as session:
        assert (
            catalog.get_product(session, ctx=owner, product_id=product.id).variants[0].image_id
            == second
        )

    # Deleting another image leaves it; deleting its own makes it show the main image again.
    with session_scope(owner, engine=engine) as session:
        images.delete_image(
            session, ctx=owner, product_id=product.id, image_id=first, storage=storage
        )
        assert (
            catalog.get_product(session, ctx=owner, product_id=product.id).variants[0].image_id
            == second
        )
    with session_scope(owner, engine=engine) as session:
        images.delete_image(
            session, ctx=owner, product_id=product.id, image_id=second, storage=storage
        )
        assert (
            catalog.get_product(session, ctx=owner, product_id=product.id).variants[0].image_id
            == ""
        )


def test_a_skus_thumbnail_is_its_own_image_else_its_products_main_one(
    engine: Engine, owner: RequestContext, product: ProductDTO, storage: LocalStorage
) -> None:
    upload(engine, owner, product, storage, data=png(color="red"))
    shown = upload(engine, owner, product, storage, data=png(color="blue"))
    main, second = shown.gallery
    with session_scope(owner, engine=engine) as session:
        variant = shown.variants[0]
        extra = catalog.create_variant(
            session, ctx=owner, product_id=product.id, variant=VariantInput(sku="MUG-BLUE")
        )
        catalog.update_variant(
            session, ctx=owner, variant_id=extra.id, changes=VariantUpdate(image_id=second.id)
        )
        catalog.create_product(session, ctx=owner, title="Bare", sku="BARE-1")
    stranger = new_org(engine)

    with session_scope(owner, engine=engine) as session:
        found = images.thumbnails_of_skus(
            session, ctx=viewer_of(owner), skus=[variant.sku, "MUG-BLUE", "BARE-1", "NOPE"]
        )
    assert found == {
        variant.sku: f"/media/{main.thumb_key}",
        "MUG-BLUE": f"/media/{second.thumb_key}",
    }
    with session_scope(stranger, engine=engine) as session:
        assert images.thumbnails_of_skus(session, ctx=stranger, skus=[variant.sku]) == {}

"""Uploaded images: checked, stripped of metadata, resized once to a full image and a thumbnail."""

from __future__ import annotations

import io
import zlib
from typing import Any

import pytest
from PIL import Image, ImageCms

from storesync.core.errors import ValidationFailed
from storesync.storage.images import MAX_BYTES, PreparedImage, prepare_image

GPS_IFD, ORIENTATION, MAKE = 0x8825, 0x0112, 0x010F


def _encoded(image: Image.Image, format: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def _photo(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Not one flat colour, so encoders have something to do."""
    image = Image.linear_gradient("L").resize((width, height)).convert(mode)
    if mode == "RGBA":
        image.putalpha(Image.linear_gradient("L").resize((width, height)))
    return image


def _opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _refusal(data: bytes) -> str:
    with pytest.raises(ValidationFailed) as raised:
        prepare_image(data)
    assert raised.value.details["field"] == "image"
    return raised.value.message


def test_a_large_jpeg_becomes_a_webp_of_2048_px_and_a_256_px_thumbnail() -> None:
    prepared = prepare_image(_encoded(_photo(4000, 3000), "JPEG", quality=90))

    assert isinstance(prepared, PreparedImage)
    assert prepared.content_type == "image/webp"
    assert prepared.source_format == "jpeg"
    assert (prepared.width, prepared.height) == (2048, 1536)
    assert (prepared.thumbnail_width, prepared.thumbnail_height) == (256, 192)
    full, thumbnail = _opened(prepared.full), _opened(prepared.thumbnail)
    assert (full.format, full.size) == ("WEBP", (2048, 1536))
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (256, 192))
    assert prepared.full_size == len(prepared.full) < MAX_BYTES
    assert prepared.thumbnail_size == len(prepared.thumbnail) < prepared.full_size


def test_a_small_png_keeps_its_size_and_its_transparency() -> None:
    prepared = prepare_image(_encoded(_photo(300, 600, "RGBA"), "PNG"))

    assert (prepared.source_format, prepared.width, prepared.height) == ("png", 300, 600)
    assert (prepared.thumbnail_width, prepared.thumbnail_height) == (128, 256)
    assert _opened(prepared.full).mode == "RGBA"
    assert _opened(prepared.thumbnail).size == (128, 256)


@pytest.mark.parametrize("format", ["GIF", "WEBP"])
def test_gif_and_webp_are_accepted(format: str) -> None:
    prepared = prepare_image(_encoded(_photo(64, 32).convert("P"), format))

    assert (prepared.source_format, prepared.width, prepared.height) == (format.lower(), 64, 32)
    assert _opened(prepared.full).format == "WEBP"


def test_an_animated_gif_keeps_its_first_frame() -> None:
    red, blue = Image.new("RGB", (40, 40), "red"), Image.new("RGB", (40, 40), "blue")
    data = _encoded(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)

    full = _opened(prepare_image(data).full).convert("RGB")

    assert getattr(full, "n_frames", 1) == 1
    r, _g, b = full.getpixel((20, 20))  # type: ignore[misc]
    assert r > 200 and b < 50


def test_exif_gps_and_comments_are_stripped_and_the_orientation_applied() -> None:
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[ORIENTATION] = 6  # the camera was turned: shown rotated 90° clockwise
    exif.get_ifd(GPS_IFD)[2] = (6.0, 10.0, 30.0)  # latitude
    upload = _encoded(_photo(400, 200), "JPEG", exif=exif.tobytes(), comment=b"shop secret")
    assert b"PhoneMaker" in upload and b"shop secret" in upload

    prepared = prepare_image(upload)

    assert (prepared.width, prepared.height) == (200, 400)  # upright
    for data in (prepared.full, prepared.thumbnail):
        image = _opened(data)
        assert not image.getexif()
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
        assert b"PhoneMaker" not in data and b"Exif" not in data and b"shop secret" not in data


def test_colour_profiles_are_applied_and_dropped_and_a_broken_one_is_ignored() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.new("RGB", (32, 32), (200, 30, 30))

    for profile in (None, srgb, b"not a colour profile"):
        upload = _encoded(image, "PNG", **({"icc_profile": profile} if profile else {}))
        full = _opened(prepare_image(upload).full)

        assert "icc_profile" not in full.info
        r, g, b = full.convert("RGB").getpixel((16, 16))  # type: ignore[misc]
        assert abs(r - 200) < 8 and g < 45 and b < 45


def test_a_text_file_named_png_is_refused_as_not_an_image() -> None:
    message = _refusal(b"name,price\nKaos,59000\n" * 10)

    assert message == "image: is not an image StoreSync can read (use JPEG, PNG, WebP or GIF)"


def test_an_image_in_another_format_is_refused_naming_it() -> None:
    message = _refusal(_encoded(_photo(20, 20), "BMP"))

    assert message == "image: is a BMP image; only JPEG, PNG, WebP and GIF are accepted"


def test_a_file_over_10_mb_is_refused_before_it_is_read() -> None:
    message = _refusal(b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_BYTES)

    assert message == "image: is 10.0 MB; the largest accepted is 10 MB"


def test_an_image_of_more_than_40_megapixels_is_refused_before_its_pixels_are_decoded() -> None:
    # A valid PNG header for 8000x6000 pixels whose data is tiny: a decompression bomb.
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    header = (8000).to_bytes(4, "big") + (6000).to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )

    message = _refusal(bomb)

    assert message == (
        "image: is 8000x6000 px (48.0 megapixels); the largest accepted is 40 megapixels"
    )


def test_a_truncated_image_is_refused_as_damaged() -> None:
    data = _encoded(_photo(600, 400), "PNG")

    message = _refusal(data[: len(data) // 2])

    assert "damaged" in message


def test_an_empty_upload_is_refused() -> None:
    assert _refusal(b"") == "image: is empty"

"""Checking an uploaded image and making, once, the two files StoreSync keeps of it.

`prepare_image(data)` accepts a real JPEG, PNG, WebP or GIF of at most 10 MB and 40 megapixels
and returns a normalised full image (at most 2048 px on the long side) and a thumbnail (at most
256 px), both WebP, both without metadata (EXIF, GPS, XMP, comments). The camera's orientation
is applied first and colours are converted to sRGB, so what the merchant saw is what is kept.
An animated GIF or WebP keeps its first frame.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from storesync.core.errors import ValidationFailed

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
FULL_SIZE = 2048
THUMBNAIL_SIZE = 256
WEBP_QUALITY = 85
CONTENT_TYPE = "image/webp"
# Pillow's names; MPO is how it reads many phone cameras' JPEGs (a photo plus a depth map).
FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
FIELD = "image"


@dataclass(frozen=True)
class PreparedImage:
    """The two WebP files to store, and their dimensions in pixels."""

    full: bytes
    thumbnail: bytes
    width: int
    height: int
    thumbnail_width: int
    thumbnail_height: int
    source_format: str  # jpeg, png, webp or gif
    content_type: str = CONTENT_TYPE

    @property
    def full_size(self) -> int:
        return len(self.full)

    @property
    def thumbnail_size(self) -> int:
        return len(self.thumbnail)


def prepare_image(data: bytes) -> PreparedImage:
    """Check `data` is an image StoreSync accepts and make its full image and thumbnail.

    Refuses with `ValidationFailed("image", ...)` naming the problem: empty, over 10 MB, not an
    image, not JPEG/PNG/WebP/GIF, over 40 megapixels, damaged. CPU-bound (a large photo takes a
    fraction of a second): call it from a worker or a thread, not on an event loop."""
    if not data:
        raise ValidationFailed(FIELD, "is empty")
    if len(data) > MAX_BYTES:
        raise ValidationFailed(
            FIELD,
            f"is {len(data) / 1024 / 1024:.1f} MB; the largest accepted is "
            f"{MAX_BYTES // 1024 // 1024} MB",
            size=len(data),
            limit=MAX_BYTES,
        )
    with _opened(data) as image:
        source_format = FORMATS[image.format or ""]
        clean = _decoded(image)
    full = clean.copy()
    full.thumbnail((FULL_SIZE, FULL_SIZE), Image.Resampling.LANCZOS)
    thumbnail = full.copy()
    thumbnail.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    return PreparedImage(
        full=_webp(full),
        thumbnail=_webp(thumbnail),
        width=full.width,
        height=full.height,
        thumbnail_width=thumbnail.width,
        thumbnail_height=thumbnail.height,
        source_format=source_format,
    )


def _opened(data: bytes) -> Image.Image:
    """The image, its header read and checked (format, pixel count), its pixels not yet."""
    try:
        with warnings.catch_warnings():
            # The pixel count is checked below against our own, lower limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ValidationFailed(FIELD, _too_many_pixels_message()) from None
    except UnidentifiedImageError:
        raise ValidationFailed(
            FIELD, "is not an image StoreSync can read (use JPEG, PNG, WebP or GIF)"
        ) from None
    except (OSError, ValueError, SyntaxError):
        raise ValidationFailed(FIELD, "is damaged: it cannot be read as an image") from None
    if image.format not in FORMATS:
        image.close()
        raise ValidationFailed(
            FIELD,
            f"is a {image.format or 'unknown'} image; only JPEG, PNG, WebP and GIF are accepted",
            format=image.format or "",
        )
    pixels = image.width * image.height
    if pixels > MAX_PIXELS:
        image.close()
        raise ValidationFailed(
            FIELD,
            f"is {image.width}x{image.height} px ({pixels / 1e6:.1f} megapixels); "
            + _too_many_pixels_message(),
            width=image.width,
            height=image.height,
        )
    return image


def _too_many_pixels_message() -> str:
    return f"the largest accepted is {MAX_PIXELS // 1_000_000} megapixels"


def _decoded(image: Image.Image) -> Image.Image:
    """The first frame's pixels, upright, in sRGB, as RGB or RGBA, with no metadata at all."""
    try:
        image.seek(0)
        image.load()
        upright = ImageOps.exif_transpose(image) or image
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ValidationFailed(
            FIELD, "is damaged or cut short: its pixels cannot be read"
        ) from None
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    mode = "RGBA" if has_alpha else "RGB"
    converted = _to_srgb(upright, mode)
    clean = Image.new(mode, converted.size)  # a new image: nothing of the upload's info/EXIF
    clean.paste(converted)
    return clean


def _to_srgb(image: Image.Image, mode: str) -> Image.Image:
    """`image` in `mode`, its colours moved to sRGB when it carries another colour profile."""
    profile = image.info.get("icc_profile")
    if profile and image.mode in ("RGB", "RGBA", "CMYK"):
        try:
            moved = ImageCms.profileToProfile(
                image,
                ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                ImageCms.createProfile("sRGB"),
                outputMode="RGB" if image.mode == "CMYK" else image.mode,
            )
            if moved is not None:
                return moved.convert(mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: keep the numbers as they are, as most viewers would
    return image.convert(mode)


def _webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="WEBP", quality=WEBP_QUALITY, method=4)
    return out.getvalue()

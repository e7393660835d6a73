"""The product editor dialog: a new product from its title; a product's fields, images, variants,
stock per location and channel listings; a variant's fields. Every input has a visible label;
the service's message for a field shows under it."""

from __future__ import annotations

from typing import Any

import reflex as rx

from storesync.catalog.schemas import PRODUCT_STATUSES
from storesync.ui.components.controls import field_label, labelled_upload
from storesync.ui.state.product_editor.state import IMAGE_UPLOAD_ID, ProductEditorState

S = ProductEditorState
BORDER = f"1px solid {rx.color('gray', 5)}"
MATCH_COLORS = {"matched": "green", "suggested": "amber", "unmatched": "gray", "ignored": "gray"}


def _error(name: str) -> rx.Component:
    return rx.cond(
        S.field_errors.contains(name),
        rx.text(
            S.field_errors[name],
            color_scheme="red",
            size="1",
            id=f"error-{name}",
            class_name="field-error",
        ),
    )


def _labelled(label: str, name: str, control: rx.Component, **props: Any) -> rx.Component:
    """`control` (id `field-<name>`) under its visible label, with its error below."""
    return rx.vstack(
        field_label(label, f"field-{name}", size="2"),
        control,
        _error(name),
        spacing="1",
        **props,
    )


def field(label: str, name: str, default: Any = "", **props: Any) -> rx.Component:
    """A labelled input named `name` (id `field-<name>`)."""
    control = rx.input(id=f"field-{name}", name=name, default_value=default, width="100%", **props)
    return _labelled(label, name, control, width="100%", min_width="0")


def text_area(label: str, name: str, default: Any = "", **props: Any) -> rx.Component:
    control = rx.text_area(
        id=f"field-{name}", name=name, default_value=default, width="100%", **props
    )
    return _labelled(label, name, control, width="100%")


def choice(label: str, name: str, options: list[str], default: Any) -> rx.Component:
    control = rx.select(options, name=name, default_value=default, id=f"field-{name}")
    return _labelled(label, name, control)


def _grid(*children: Any) -> rx.Component:
    """Two columns on a desk, one on a phone."""
    return rx.grid(
        *children, columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"
    )


def _buttons(submit_id: str, cancel: Any = S.close_editor, cancel_text: str = "Cancel"):
    return rx.hstack(
        rx.button(cancel_text, type="button", variant="soft", on_click=cancel),
        rx.button("Save", type="submit", id=submit_id),
        justify="end",
        width="100%",
    )


def _section(title: str, *children: Any, **props: Any) -> rx.Component:
    return rx.vstack(
        rx.heading(title, size="3"),
        *children,
        spacing="2",
        width="100%",
        padding_top="0.75rem",
        border_top=BORDER,
        **props,
    )


def create_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.dialog.title("New product"),
            field("Title", "title", required=True),
            field(
                "Handle (its key, no spaces; blank: made from the title)",
                "handle",
                placeholder="made from the title",
            ),
            choice("Status", "status", list(PRODUCT_STATUSES), "active"),
            rx.text("First variant", weight="bold", size="2", margin_top="0.5rem"),
            _grid(
                field("SKU (blank: the handle)", "sku", placeholder="MUG-BLUE"),
                field("Price", "price", placeholder="25000", input_mode="decimal"),
            ),
            _buttons("product-save"),
            spacing="2",
            width="100%",
        ),
        on_submit=S.create_product,
        reset_on_submit=False,
        id="create-form",
    )


def _image(image: rx.Var[dict[str, str]]) -> rx.Component:
    is_main = image["main"] == "yes"
    return rx.vstack(
        rx.box(
            rx.image(
                src=image["thumb"],
                alt=image["alt"],
                width="100%",
                height="100%",
                object_fit="cover",
            ),
            rx.cond(
                is_main,
                rx.badge(
                    "Main",
                    color_scheme="green",
                    variant="solid",
                    position="absolute",
                    top="4px",
                    left="4px",
                ),
            ),
            position="relative",
            width="100%",
            aspect_ratio="1",
            border_radius="6px",
            overflow="hidden",
            background=rx.color("gray", 3),
        ),
        rx.hstack(
            rx.icon_button(
                rx.icon("chevron-left", size=14),
                size="1",
                variant="soft",
                disabled=image["first"] == "yes",
                on_click=S.move_image(image["id"], -1),
                aria_label="Move left",
                class_name="image-left",
            ),
            rx.icon_button(
                rx.icon("chevron-right", size=14),
                size="1",
                variant="soft",
                disabled=image["last"] == "yes",
                on_click=S.move_image(image["id"], 1),
                aria_label="Move right",
                class_name="image-right",
            ),
            rx.icon_button(
                rx.icon("star", size=14),
                size="1",
                variant="soft",
                disabled=is_main,
                on_click=S.make_main_image(image["id"]),
                aria_label="Make main image",
                title="Make main image",
                class_name="image-main",
            ),
            rx.icon_button(
                rx.icon("trash-2", size=14),
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=S.delete_image(image["id"]),
                aria_label="Delete image",
                class_name="image-delete",
            ),
            spacing="1",
            justify="center",
            width="100%",
        ),
        spacing="1",
        class_name="product-image",
        custom_attrs={"data-image-id": image["id"], "data-main": image["main"]},
    )


def images_section() -> rx.Component:
    return _section(
        "Images",
        rx.text(
            "The first image is the main one. JPEG, PNG, WebP or GIF up to 10 MB; 20 at most.",
            size="1",
            color_scheme="gray",
        ),
        rx.grid(
            rx.foreach(S.product_images, _image),
            columns="repeat(auto-fill, minmax(6.5rem, 1fr))",
            spacing="2",
            width="100%",
            id="product-images",
        ),
        labelled_upload(
            rx.vstack(
                rx.icon("image-plus", size=20),
                rx.text("Drop images here or click to choose", size="2"),
                align="center",
                spacing="1",
            ),
            id=IMAGE_UPLOAD_ID,
            accept={"image/*": [".jpg", ".jpeg", ".png", ".webp", ".gif"]},
            multiple=True,
            max_files=20,
            on_drop=S.upload_images(rx.upload_files(upload_id=IMAGE_UPLOAD_ID)),
            disabled=S.image_busy,
            border=f"1px dashed {rx.color('gray', 8)}",
            border_radius="8px",
            padding="1rem",
            width="100%",
            cursor="pointer",
            label="Upload product images",
        ),
        rx.form(
            rx.vstack(
                field_label("Add an image from a web address", "product-image-url", size="2"),
                rx.flex(
                    rx.input(
                        id="product-image-url",
                        name="image_url",
                        placeholder="https://…/photo.jpg",
                        type="url",
                        flex="1 1 12rem",
                        min_width="0",
                    ),
                    rx.button(
                        "Add from URL",
                        type="submit",
                        loading=S.image_busy,
                        id="product-image-url-add",
                    ),
                    spacing="2",
                    wrap="wrap",
                    width="100%",
                ),
                spacing="1",
                width="100%",
            ),
            on_submit=S.add_image_url,
            reset_on_submit=True,
            width="100%",
        ),
        id="images-section",
    )


def _product_fields() -> rx.Component:
    p = S.product
    return rx.form(
        rx.vstack(
            _grid(
                field("Title", "title", p["title"], required=True),
                field("Handle (its key, no spaces)", "handle", p["handle"]),
                field("Brand", "brand", p["brand"]),
                field("Category", "category", p["category"]),
            ),
            choice("Status", "status", list(PRODUCT_STATUSES), p["status"]),
            text_area(
                "Description (Markdown: **bold**, *italic*, lists, links)",
                "description",
                p["description"],
                rows="5",
            ),
            rx.cond(
                p["description_html"] != "",
                rx.box(
                    rx.text("Preview", size="1", color_scheme="gray"),
                    rx.html(p["description_html"], class_name="description-preview"),
                    width="100%",
                    padding="0.5rem",
                    border=BORDER,
                    border_radius="6px",
                    overflow_wrap="anywhere",
                    id="description-preview",
                ),
            ),
            text_area(
                "Attributes (one per line, name: value)", "attributes", p["attributes"], rows="3"
            ),
            _buttons("product-save"),
            spacing="2",
            width="100%",
        ),
        on_submit=S.update_product,
        reset_on_submit=False,
        id="product-form",
        width="100%",
    )


def _variants_section() -> rx.Component:
    return _section(
        "Variants",
        rx.foreach(
            S.product_variants,
            lambda v: rx.flex(
                rx.cond(
                    v["thumb"] != "",
                    rx.image(
                        src=v["thumb"],
                        alt="Picture of " + v["sku"],
                        width="2.5rem",
                        height="2.5rem",
                        object_fit="cover",
                        border_radius="4px",
                        class_name="variant-thumb",
                    ),
                ),
                rx.vstack(
                    rx.text(v["sku"], size="2", weight="medium", white_space="nowrap"),
                    rx.text(v["name"], " ", v["options"], size="1", color_scheme="gray"),
                    spacing="0",
                    min_width="0",
                    flex="1 1 10rem",
                ),
                rx.text(v["price"], size="1"),
                rx.cond(v["active"] == "inactive", rx.badge("inactive", color_scheme="gray")),
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=S.start_edit_variant(v["id"]),
                    class_name="edit-variant",
                    custom_attrs={"data-sku": v["sku"]},
                ),
                width="100%",
                align="center",
                gap="2",
                wrap="wrap",
                class_name="variant-row",
            ),
        ),
        rx.button(
            rx.icon("plus", size=14),
            "Add variant",
            size="1",
            variant="soft",
            on_click=S.start_new_variant,
            id="add-variant",
        ),
    )


def _cell_table(headers: list[str], rows: Any, cells: Any, table_id: str) -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*(rx.table.column_header_cell(h) for h in headers))),
            rx.table.body(rx.foreach(rows, cells)),
            size="1",
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
        id=table_id,
    )


def _stock_section() -> rx.Component:
    return _section(
        "Stock per location",
        rx.cond(
            S.stock.length() > 0,
            _cell_table(
                ["SKU", "Location", "On hand", "Reserved", "Available"],
                S.stock,
                lambda r: rx.table.row(
                    rx.table.cell(r["sku"], white_space="nowrap"),
                    rx.table.cell(r["location"]),
                    rx.table.cell(r["on_hand"]),
                    rx.table.cell(r["reserved"]),
                    rx.table.cell(r["available"], class_name="stock-available"),
                    class_name="stock-row",
                ),
                "product-stock",
            ),
            rx.text("No stock recorded yet.", size="1", color_scheme="gray"),
        ),
    )


def _listings_section() -> rx.Component:
    return _section(
        "Channels",
        rx.cond(
            S.listings.length() > 0,
            _cell_table(
                ["Channel", "Listing", "SKU", "State", "Qty on channel"],
                S.listings,
                lambda r: rx.table.row(
                    rx.table.cell(r["store"]),
                    rx.table.cell(r["title"]),
                    rx.table.cell(r["sku"], white_space="nowrap"),
                    rx.table.cell(
                        rx.badge(
                            r["state"],
                            color_scheme=rx.match(r["match_status"], *MATCH_COLORS.items(), "gray"),
                        ),
                        " ",
                        r["status"],
                    ),
                    rx.table.cell(r["quantity"]),
                    class_name="listing-row",
                ),
                "product-listings",
            ),
            rx.text("Not listed on any channel.", size="1", color_scheme="gray"),
        ),
    )


def _publication(p: Any) -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.flex(
                rx.text(p["store"], weight="medium", size="2"),
                rx.badge(
                    p["status"],
                    color_scheme=rx.match(
                        p["status"], ("published", "green"), ("failed", "red"), "gray"
                    ),
                ),
                rx.cond(
                    p["item"] != "", rx.text("item ", p["item"], size="1", color_scheme="gray")
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.cond(p["error"] != "", rx.text(p["error"], size="1", color_scheme="red")),
            rx.cond(
                p["status"] == "published",
                rx.vstack(
                    rx.input(type="hidden", name="store_id", value=p["store_id"]),
                    rx.input(
                        name="title_override",
                        default_value=p["title_override"],
                        placeholder="The product's title",
                        width="100%",
                        custom_attrs={"aria-label": "This channel's own title"},
                        class_name="override-title",
                    ),
                    rx.text_area(
                        name="description_override",
                        default_value=p["description_override"],
                        placeholder="The product's description",
                        rows="2",
                        width="100%",
                        custom_attrs={"aria-label": "This channel's own description"},
                    ),
                    rx.button(
                        "Keep for this channel", size="1", type="submit", class_name="override-save"
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            spacing="1",
            width="100%",
        ),
        on_submit=S.save_override,
        reset_on_submit=False,
        width="100%",
        class_name="publication",
        data_store=p["store"],
    )


def _publications_section() -> rx.Component:
    return rx.cond(
        S.publications.length() > 0,
        _section(
            "Published to",
            rx.text(
                "Title and description edits reach these channels; a channel's own title or "
                "description, when kept, stays.",
                size="1",
                color_scheme="gray",
            ),
            rx.foreach(S.publications, _publication),
            id="product-publications",
        ),
    )


def product_form() -> rx.Component:
    return rx.vstack(
        rx.dialog.title("Edit ", S.product["handle"], word_break="break-word"),
        _product_fields(),
        images_section(),
        _variants_section(),
        _stock_section(),
        _listings_section(),
        _publications_section(),
        spacing="3",
        width="100%",
    )


def _variant_picture(v: Any) -> rx.Component:
    """Which of the product's images shows this variant (its colour, say)."""
    return rx.vstack(
        field_label("Picture", "field-image_id", size="2"),
        rx.select.root(
            rx.select.trigger(id="field-image_id"),
            rx.select.content(
                rx.select.item("The product's main image", value="none"),
                rx.foreach(
                    S.product_images,
                    lambda image, n: rx.select.item(
                        "Image " + (n + 1).to_string(), value=image["id"]
                    ),
                ),
            ),
            name="image_id",
            default_value=rx.cond(v.contains("image_id"), v["image_id"], "none"),
        ),
        spacing="1",
        width="100%",
    )


def variant_form() -> rx.Component:
    v = S.variant
    return rx.form(
        rx.vstack(
            rx.dialog.title(
                rx.cond(v.contains("id"), "Variant " + v["sku"], "New variant"),
                word_break="break-word",
            ),
            _grid(
                field("SKU", "sku", v["sku"]),
                field("Name", "name", v["name"]),
                field("Barcode", "barcode", v["barcode"]),
                choice("Active", "active", ["active", "inactive"], v["active"]),
                field("Price (blank: no price)", "price", v["price_input"], input_mode="decimal"),
                field("Cost", "cost", v["cost_input"], input_mode="decimal"),
                field("Weight (g)", "weight_grams", v["weight_grams"], input_mode="numeric"),
                field("Length (mm)", "length_mm", v["length_mm"], input_mode="numeric"),
                field("Width (mm)", "width_mm", v["width_mm"], input_mode="numeric"),
                field("Height (mm)", "height_mm", v["height_mm"], input_mode="numeric"),
            ),
            rx.cond(S.product_images.length() > 0, _variant_picture(v)),
            text_area(
                "Options (one per line, e.g. Color: Blue; at most 3)",
                "options",
                v["options_input"],
                rows="3",
            ),
            _buttons("variant-save", S.back_to_product, "Back"),
            spacing="2",
            width="100%",
        ),
        on_submit=S.update_variant,
        reset_on_submit=False,
        id="variant-form",
    )


def product_editor() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.match(
                S.mode,
                ("create", create_form()),
                ("product", product_form()),
                ("variant", variant_form()),
                rx.fragment(),
            ),
            max_width=rx.cond(S.mode == "product", "min(52rem, 96vw)", "min(34rem, 96vw)"),
            width="96vw",
            padding=rx.breakpoints(initial="1rem", sm="1.5rem"),
            id="product-editor",
        ),
        open=S.mode != "",
        on_open_change=S.editor_open_change,
    )

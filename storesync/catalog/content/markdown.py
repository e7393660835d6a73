"""Product descriptions: stored as Markdown, rendered to HTML that carries no markup of the
merchant's own (raw HTML is escaped, unsafe link schemes are refused)."""

from __future__ import annotations

from markdown_it import MarkdownIt

# CommonMark without raw HTML: `<script>` in a description renders as the text "<script>".
# markdown-it's link check refuses javascript:, vbscript:, file: and data: (but images) URLs.
_RENDERER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_RENDERER.disable("image")


def render_description(markdown: str) -> str:
    """Safe HTML for a product description written in Markdown."""
    return _RENDERER.render(markdown or "")

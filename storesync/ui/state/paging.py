"""Keyset pages for a page state (a Reflex mixin: each page state gets its own copy of the
vars and handlers). The state's `_load` reads `_cursor()` and stores the service's next cursor
with `_paged(page)`."""

from __future__ import annotations

from typing import Any

import reflex as rx


class Paging(rx.State, mixin=True):
    cursors: list[str] = []  # cursors of the pages before this one (the first has none)
    next_cursor: str = ""

    @rx.var
    def page_number(self) -> int:
        return len(self.cursors) + 1

    def _cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None

    def _paged(self, next_cursor: str | None) -> None:
        self.next_cursor = next_cursor or ""

    def _restart(self) -> Any:
        """Back to the first page (a filter changed) and reload."""
        self.cursors = []
        return self._reload()  # type: ignore[attr-defined]

    @rx.event
    def next_page(self):
        if self.next_cursor:
            self.cursors = [*self.cursors, self.next_cursor]
        return self._reload()  # type: ignore[attr-defined]

    @rx.event
    def previous_page(self):
        self.cursors = self.cursors[:-1]
        return self._reload()  # type: ignore[attr-defined]

"""Summary lines that fit their width by leaving out whole items, never by cutting one.

A summary such as ``3 msgs · 62 B · ✗1 · 7s ago`` is a row of items. Cut at
the edge of a narrow pane it would read ``3 msgs · 62 B · ✗1 · 7``; wrapped,
a number could land on the next row. ``fit`` leaves out the least important
items instead (``Item.keep``: higher stays longer), keeping the order of the
rest. ``FittedLine`` is a one-row widget that does this at whatever width it
has, each time it is drawn: a resize only repaints it, and so does ``show``
(no layout, which matters while a transfer runs; see ``widgets.fixed_list``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.content import Content
from textual.widget import Widget

from sigchat.tui.text import MUTED_STYLE

SEPARATOR = " · "


@dataclass(frozen=True, slots=True)
class Item:
    """One item of a summary: its spans ``(text, style)`` and how long it stays (``keep``)."""

    spans: tuple[tuple[str, str], ...]
    keep: int = 0

    @classmethod
    def of(cls, *spans: tuple[str, str] | str, keep: int = 0) -> Item:
        return cls(tuple((span, "") if isinstance(span, str) else span for span in spans), keep)

    @property
    def width(self) -> int:
        return sum(Content(text).cell_length for text, _ in self.spans)


def fit(
    items: Sequence[Item], width: int, *, prefix: Content | str = "", separator: str = SEPARATOR
) -> Content:
    """``prefix`` and as many ``items`` as fit in ``width`` cells, joined by ``separator``.

    The items with the lowest ``keep`` go first (the later of equals first).
    The one with the highest stays, even when it alone is too wide.
    """
    prefix = Content(prefix) if isinstance(prefix, str) else prefix
    room = width - prefix.cell_length
    sep = len(separator)
    kept = list(range(len(items)))
    total = sum(items[i].width for i in kept) + sep * max(0, len(kept) - 1)
    for index in sorted(range(len(items)), key=lambda i: (items[i].keep, -i))[:-1]:
        if total <= room:
            break
        kept.remove(index)
        total -= items[index].width + sep
    parts: list[Content] = [prefix]
    for number, index in enumerate(kept):
        if number:
            parts.append(Content.styled(separator, MUTED_STYLE))
        parts.append(Content.assemble(*items[index].spans))
    return Content.assemble(*parts)


class FittedLine(Widget):
    """One row showing ``fit(items)`` at the widget's width (``separator`` between them)."""

    DEFAULT_CSS = """
    FittedLine {
        height: 1;
        width: 1fr;
    }
    """

    def __init__(
        self, items: Sequence[Item] = (), *, separator: str = SEPARATOR, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self._items = tuple(items)
        self._prefix: Content | str = ""
        self.separator = separator

    def show(self, items: Sequence[Item], *, prefix: Content | str = "") -> None:
        """Show these items (a repaint, and only when they changed)."""
        items = tuple(items)
        if items != self._items or prefix != self._prefix:
            self._items, self._prefix = items, prefix
            self.refresh()

    @property
    def content(self) -> Content:
        """The line as drawn at the current width (``Static.content``'s name)."""
        return self.render()

    @property
    def text(self) -> str:
        return self.content.plain

    def render(self) -> Content:
        width = self.content_region.width or 1_000
        return fit(self._items, width, prefix=self._prefix, separator=self.separator)

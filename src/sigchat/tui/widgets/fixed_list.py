"""``FixedOptionList``: an ``OptionList`` that repaints, rather than lays out, when rows change."""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import OptionList


class FixedOptionList(OptionList):
    """An ``OptionList`` whose size is set by CSS, never by its content.

    Textual lays the whole screen out again whenever a widget's virtual size
    changes, which for an ``OptionList`` is every added row: ~17 ms of the app's
    thread for this screen, taken from the receiver thread while a transfer
    runs (they share the GIL; issue #6). Here the box does not depend on the
    rows, so a repaint is enough. Showing or hiding a scrollbar still lays the
    screen out (a reactive of its own).
    """

    virtual_size = Reactive(Size(0, 0), layout=False)

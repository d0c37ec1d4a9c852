"""`Tab`: what every tab of the main window is. A tab talks to the server itself, through the `request`
callable it is given (the window's link), runs its requests with `spawn` (the window's task keeper, which
reports a failure on the status bar) and handles the pushed message types it lists in MESSAGES. The window
keeps only the top bar, signing in and out, the link, and the routing of pushes to tabs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from cti_desktop.i18n import Tr
from cti_desktop.link import LinkError
from cti_desktop.qtutil import Texts

Request = Callable[..., Awaitable[dict[str, Any]]]
"""`request(kind, **fields)`: one request over the link, its reply (raises LinkError when refused)."""
Spawn = Callable[[Awaitable[Any]], Any]
"""Runs an async slot as a task the window keeps; a failure is reported, not lost."""


class Tab(QWidget):
    """One tab. `reported(text)` puts a line on the window's status bar."""

    reported = Signal(str)
    MESSAGES: ClassVar[frozenset[str]] = frozenset()
    """The pushed message types `handle` takes."""
    TITLE = ""
    """The i18n key of the tab's title."""

    def __init__(self, tr: Tr, spawn: Spawn, request: Request, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.spawn = spawn
        self.request = request
        self.current = False
        self._stale = False
        self._reload: Any = None  # the task reading the tab's data again after a push, while one runs
        self.texts = Texts()
        """The tab's fixed texts (`retranslate` says them)."""

    def handle(self, msg: dict[str, Any]) -> None:
        """A pushed message of one of the MESSAGES types."""

    def signed_in(self, agent: dict[str, Any], hotlines: list[dict[str, Any]]) -> None:
        """The person signed in (again, after every resume): who they are, the hotlines they may take."""

    @staticmethod
    def shown_to(agent: dict[str, Any]) -> bool:
        """Whether this person sees the tab at all."""
        return True

    def set_current(self, current: bool) -> None:
        """The window shows this tab (or another one); a tab shown after pushes said its data changed reads
        it again."""
        self.current = current
        if current:
            self._reload_if_stale()

    async def reload(self) -> None:
        """Read the tab's data again (a tab that follows pushes with `mark_stale` says how)."""

    def mark_stale(self) -> None:
        """A push said the tab's data changed: read it again, at once while the tab is shown, else when it is
        next shown; a burst of pushes is one reload (one at a time, and one more if a push came during it)."""
        self._stale = True
        if self.current:
            self._reload_if_stale()

    def _reload_if_stale(self) -> None:
        if self._stale and (self._reload is None or self._reload.done()):
            self._reload = self.spawn(self._reload_stale())

    async def _reload_stale(self) -> None:
        while self._stale:
            self._stale = False
            await self.reload()

    def set_online(self, online: bool) -> None:
        """The link is up or down: what would send a request is disabled while it is down."""

    def retranslate(self) -> None:
        """Show every text again in the current language."""

    def lay_out_side_by_side(self, left: QWidget, right: QWidget, sizes: list[int], *, margins: bool) -> None:
        """The tab as two panes side by side, `sizes` their first widths; without `margins` the panes reach
        the tab's edges."""
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes(sizes)
        layout = QVBoxLayout(self)
        if not margins:
            layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def report_refusal(self, exc: LinkError) -> None:
        self.reported.emit(self.tr_.error(exc.error_id, exc.message))

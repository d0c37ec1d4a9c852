"""A case's attachments (附件) in a case detail: the list (name, type, size, who, when, on the case or on
which unit's result), Add… (a file sent whole in one `add_attachment`, base64), Open (a photo shown in a
preview dialog, anything else saved) and Save as… (to a file the person chooses).

A file is read into memory in the `get_attachment` pieces (protocol.md, "Attachments") and checked against
its size and SHA-256; nothing is written anywhere but the file the person chose, and nothing is run or
rendered as a web page: what a file is comes from the server's sniffed `mime`, never from its name."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ari_app.protocol import ATTACHMENT_LINK_BYTES, Msg
from cti_desktop.i18n import Tr, size_text
from cti_desktop.link import LinkError
from cti_desktop.qtutil import STRETCH, Texts, hbox, named
from cti_desktop.tab import Request, Spawn
from cti_desktop.table import Row, RowTableModel, table_view


def read_at_most(path: Path, limit: int) -> bytes:
    """The first `limit` bytes of the file at `path` (a file larger than the link takes is not read whole;
    what the link takes is small enough to read on the event loop's thread)."""
    with path.open("rb") as f:
        return f.read(limit)


def file_size(path: Path) -> int:
    return path.stat().st_size


def write_file(path: Path, data: bytes) -> None:
    """`data` into the file the person chose (at most what one attachment holds)."""
    path.write_bytes(data)


class AttachmentTableModel(RowTableModel):
    """Attachments (protocol.md, "Attachment") as rows; `units` names each unit share (dispatch id → unit
    name) so a result's attachment says whose result it is. A removed file's row is grey."""

    NAME, KIND, SIZE, BY, AT, ON = range(6)
    HEADERS = ("att_col_name", "att_col_type", "att_col_size", "att_col_by", "att_col_at", "att_col_on")
    FIELDS: ClassVar[dict[int, str]] = {NAME: "filename", KIND: "mime", BY: "uploaded_by"}
    KEY = "token"

    def __init__(self, tr: Tr, parent: Any = None) -> None:
        super().__init__(tr, parent)
        self.units: dict[int, str] = {}

    def cell(self, row: Row, col: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole and row.get("removed_at"):
            return Qt.GlobalColor.gray
        if role == Qt.ItemDataRole.ToolTipRole and row.get("removed_at"):
            return self.tr_("att_removed", at=self.tr_.when(row["removed_at"]))
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == self.SIZE:
            return size_text(int(row.get("size") or 0))
        if col == self.AT:
            return self.tr_.when(row.get("uploaded_at"))
        if col == self.ON:
            share = row.get("dispatch_id")
            if share is None:
                return self.tr_("att_on_case")
            return self.tr_("att_on_result", unit=self.units.get(int(share), f"#{share}"))
        return None


class PhotoDialog(QDialog):
    """A photo shown from memory in a QLabel, scaled down to fit; nothing is written or run."""

    def __init__(self, title: str, pixmap: QPixmap, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoDialog")
        self.setWindowTitle(title)
        self.image = named(QLabel(), "photoImage")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        shown = pixmap
        if pixmap.width() > 900 or pixmap.height() > 640:
            shown = pixmap.scaled(
                900, 640, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        self.image.setPixmap(shown)
        scroll = QScrollArea()
        scroll.setWidget(self.image)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        self.resize(max(320, shown.width() + 40), max(240, shown.height() + 40))


class AttachmentPanel(QWidget):
    """The attachments of the case on show, with Add…, Open and Save as…. `set_case` shows a case's
    `attachments`; a department's file goes on its own share by the server's rule (ari_app.cases.attachments),
    everyone else's on the case."""

    def __init__(self, tr: Tr, spawn: Spawn, request: Request, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachments")
        self.tr_ = tr
        self.spawn = spawn
        self.request = request
        self.case: dict[str, Any] | None = None
        self.preview: PhotoDialog | None = None
        self.texts = texts = Texts()
        self.title = texts.named(QLabel(), "attTitle", "att_title")
        self.title.setStyleSheet("font-weight: bold;")
        self.add_button = texts.named(QPushButton(), "attAdd", "att_add")
        self.open_button = texts.named(QPushButton(), "attOpen", "att_open")
        self.save_button = texts.named(QPushButton(), "attSave", "att_save")
        self.model = AttachmentTableModel(tr)
        self.table = table_view(self.model, "attTable", AttachmentTableModel.NAME)
        self.table.setMinimumHeight(90)
        self.message = named(QLabel(), "attMessage")
        self.message.setWordWrap(True)
        top = hbox(self.title, STRETCH, self.add_button, self.open_button, self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        self.add_button.clicked.connect(self._add_clicked)
        self.open_button.clicked.connect(self._open_clicked)
        self.save_button.clicked.connect(self._save_clicked)
        self.table.doubleClicked.connect(lambda _i: self._open_clicked())
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._enable())
        self.retranslate()
        self.set_case(None)

    # --- showing ---------------------------------------------------------------------------------------
    def set_case(self, case: dict[str, Any] | None) -> None:
        """The case's attachments (or none); the message stays while it is the same case."""
        if case is None or self.case is None or case.get("id") != self.case.get("id"):
            self.clear_message()
        self.case = case
        self.model.units = {int(d["id"]): str(d.get("unit_name") or "") for d in (case or {}).get("dispatches") or []}
        keep = self.selected()
        self.model.set_rows(list((case or {}).get("attachments") or []))
        row = self.model.row_of(keep["token"]) if keep else None
        if row is not None:
            self.table.selectRow(row)
        self._enable()

    def selected(self) -> dict[str, Any] | None:
        index = self.table.currentIndex()
        return self.model.rows[index.row()] if index.isValid() and index.row() < len(self.model.rows) else None

    def _enable(self) -> None:
        self.add_button.setEnabled(self.case is not None)
        chosen = self.selected()
        readable = chosen is not None and not chosen.get("removed_at")
        self.open_button.setEnabled(readable)
        self.save_button.setEnabled(readable)

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020;" if error else "color: #2e7d32;")
        self.message.setText(text)
        self.message.setVisible(True)

    def clear_message(self) -> None:
        """No message, and no empty line kept for one."""
        self.message.clear()
        self.message.setVisible(False)

    # --- clicks: the dialogs, then the requests ---------------------------------------------------------
    def _add_clicked(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, self.tr_("att_add_title"), "", self.tr_("att_add_filter"))
        if path:
            self.spawn(self.add_file(Path(path)))

    def _open_clicked(self) -> None:
        chosen = self.selected()
        if chosen is not None and not chosen.get("removed_at"):
            self.spawn(self.open_attachment(chosen))

    def _save_clicked(self) -> None:
        chosen = self.selected()
        if chosen is None or chosen.get("removed_at"):
            return
        path, _filter = QFileDialog.getSaveFileName(self, self.tr_("att_save_title"), str(chosen.get("filename") or ""))
        if path:
            self.spawn(self.save_to(chosen, Path(path)))

    # --- requests --------------------------------------------------------------------------------------
    async def add_file(self, path: Path) -> dict[str, Any] | None:
        """Send the file at `path` to the case on show; the attachment the server kept, or None after saying
        why not (too large for the link, said before sending; the server's refusal in the person's language)."""
        if self.case is None:
            return None
        try:
            data = read_at_most(path, ATTACHMENT_LINK_BYTES + 1)
        except OSError as exc:
            self.show_message(self.tr_("att_unreadable", name=path.name, error=exc.strerror or str(exc)), error=True)
            return None
        if len(data) > ATTACHMENT_LINK_BYTES:
            size, limit = size_text(file_size(path)), size_text(ATTACHMENT_LINK_BYTES)
            if size == limit:  # just over: the bytes tell them apart
                size, limit = f"{file_size(path)} B", f"{ATTACHMENT_LINK_BYTES} B"
            text = self.tr_("att_link_limit", name=path.name, size=size, limit=limit)
            self.show_message(text, error=True)
            return None
        fields: dict[str, Any] = {"case_id": self.case["id"], "filename": path.name[:255]}
        fields["data"] = base64.b64encode(data).decode("ascii")
        self.show_message(self.tr_("att_sending", name=path.name))
        try:
            reply = await self.request(Msg.ADD_ATTACHMENT, **fields)
        except LinkError as exc:
            self.show_message(self.tr_.error(exc.error_id, exc.message, exc.detail), error=True)
            return None
        added: dict[str, Any] = reply["attachment"]
        if self.case is not None and self.case.get("id") == added.get("case_id"):
            rows = [r for r in self.model.rows if r.get("token") != added.get("token")] + [added]
            self.set_case({**self.case, "attachments": rows})
        self.show_message(self.tr_("att_added", name=added.get("filename", path.name), mime=added.get("mime", "")))
        return added

    async def fetch(self, attachment: dict[str, Any]) -> bytes | None:
        """The attachment's bytes, read piece by piece into memory and checked against its size and SHA-256;
        None after saying why not."""
        pieces: list[bytes] = []
        got = 0
        try:
            while True:
                reply = await self.request(Msg.GET_ATTACHMENT, token=attachment["token"], offset=got)
                piece = base64.b64decode(reply.get("data") or "")
                pieces.append(piece)
                got += len(piece)
                if reply.get("eof") or not piece:
                    break
        except LinkError as exc:
            self.show_message(self.tr_.error(exc.error_id, exc.message, exc.detail), error=True)
            return None
        data = b"".join(pieces)
        if len(data) != attachment.get("size") or hashlib.sha256(data).hexdigest() != attachment.get("sha256"):
            self.show_message(self.tr_("att_corrupt", name=attachment.get("filename", "")), error=True)
            return None
        return data

    async def open_attachment(self, attachment: dict[str, Any]) -> PhotoDialog | None:
        """A photo in a preview dialog (from memory); any other type is offered for saving instead."""
        mime = str(attachment.get("mime") or "")
        if not mime.startswith("image/"):
            self._save_clicked()
            return None
        data = await self.fetch(attachment)
        if data is None:
            return None
        pixmap = QPixmap()
        if not pixmap.loadFromData(data):  # e.g. HEIC, which Qt cannot draw without a plugin
            self.show_message(self.tr_("att_no_preview", mime=mime), error=True)
            return None
        self.preview = PhotoDialog(str(attachment.get("filename") or ""), pixmap, self)
        self.preview.show()
        self.clear_message()
        return self.preview

    async def save_to(self, attachment: dict[str, Any], path: Path) -> bool:
        """The attachment written to `path`, the file the person chose."""
        data = await self.fetch(attachment)
        if data is None:
            return False
        try:
            write_file(path, data)
        except OSError as exc:
            self.show_message(self.tr_("att_unwritable", name=str(path), error=exc.strerror or str(exc)), error=True)
            return False
        self.show_message(self.tr_("att_saved", name=str(path)))
        return True

    def retranslate(self) -> None:
        t = self.tr_
        self.texts.say(t)
        self.add_button.setToolTip(t("att_add_tip", limit=size_text(ATTACHMENT_LINK_BYTES)))
        self.model.retranslate()

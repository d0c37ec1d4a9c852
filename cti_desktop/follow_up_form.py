"""The follow-up (回访) fields of `follow_up_case`: reached or not, by phone or SMS, solved, and the citizen's
five-level rating (五级满意度评价: 非常满意 … 非常不满意, `ari_app.protocol.RATINGS`). Used in the cases to
handle tab's case detail and in the follow-ups due tab."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QWidget

from ari_app.protocol import FOLLOW_UP_CHANNELS, RATINGS
from cti_desktop.i18n import Tr
from cti_desktop.qtutil import Texts, named, refill

UNSATISFIED = frozenset({"unsatisfied", "very_unsatisfied"})
"""The ratings after which the reviewer sends the case back (发回重办; protocol.md, `send_back_required`)."""


class FollowUpForm(QWidget):
    """One row: reached, channel, solved, rating. Solved and rating only count when the citizen was reached;
    the rating starts on 满意 (satisfied), which the person changes to what the citizen said."""

    def __init__(self, tr: Tr, prefix: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tr_ = tr
        self.texts = texts = Texts()
        self.label = texts.add(QLabel(), "action_follow_up")
        self.reached = texts.named(QCheckBox(), f"{prefix}Reached", "work_reached")
        self.reached.setChecked(True)
        self.channel = named(QComboBox(), f"{prefix}Channel")
        self.solved = texts.named(QCheckBox(), f"{prefix}Solved", "work_solved")
        self.solved.setChecked(True)
        self.rating_label = texts.add(QLabel(), "fu_rating")
        self.rating = named(QComboBox(), f"{prefix}Rating")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.label, self.channel, self.reached, self.solved, self.rating_label):
            row.addWidget(w)
        row.addWidget(self.rating, 1)
        self.reached.toggled.connect(self._reached_toggled)
        self.retranslate()
        self.rating.setCurrentIndex(RATINGS.index("satisfied"))

    def _reached_toggled(self, reached: bool) -> None:
        self.solved.setEnabled(reached)
        self.rating.setEnabled(reached)

    def choose_rating(self, rating: str) -> None:
        self.rating.setCurrentIndex(self.rating.findData(rating))

    def reset(self) -> None:
        self.reached.setChecked(True)
        self.solved.setChecked(True)
        self.channel.setCurrentIndex(0)
        self.choose_rating("satisfied")

    def fields(self) -> dict[str, Any]:
        """The `follow_up_case` fields but `case_id` and `notes`."""
        out: dict[str, Any] = {"reached": self.reached.isChecked(), "channel": self.channel.currentData()}
        if self.reached.isChecked():
            out["solved"] = self.solved.isChecked()
            out["rating"] = self.rating.currentData()
        return out

    def retranslate(self) -> None:
        t = self.tr_
        self.texts.say(t)
        refill(self.channel, ((t(f"channel_{c}"), c) for c in FOLLOW_UP_CHANNELS))
        refill(self.rating, ((t(f"rating_{r}"), r) for r in RATINGS))

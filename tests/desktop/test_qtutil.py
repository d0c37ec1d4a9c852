"""cti_desktop.qtutil.Texts: a view's fixed texts, kept where its widgets are made and said in each language."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QPlainTextEdit, QPushButton
from pytestqt.qtbot import QtBot

from cti_desktop.i18n import Tr
from cti_desktop.qtutil import Texts


def test_texts_give_a_label_or_button_its_text_and_a_field_its_placeholder(qtbot: QtBot) -> None:
    texts = Texts()
    label = texts.named(QLabel(), "title", "phone_title")
    button = texts.add(QPushButton(), "sign_in")
    box = texts.add(QCheckBox(), "ready")
    line = texts.add(QLineEdit(), "agent_id")
    notes = texts.add(QPlainTextEdit(), "password")
    assert label.objectName() == "title" and label.text() == ""  # nothing is said before `say`
    texts.say(Tr("zh"))
    assert [label.text(), button.text(), box.text()] == ["电话", "登录", "就绪"]
    assert [line.placeholderText(), line.text(), notes.placeholderText()] == ["工号", "", "密码"]
    texts.say(Tr("en"))
    assert [label.text(), button.text(), line.placeholderText()] == ["Phone", "Sign in", "Agent ID"]


def test_texts_refuse_a_widget_that_shows_no_text(qtbot: QtBot) -> None:
    with pytest.raises(TypeError, match="QComboBox"):
        Texts().add(QComboBox(), "language")

"""A case's detail pane as HTML: the pieces the cases to handle tab and the follow-ups tab show alike (the
number as a heading, a table of labelled values, the request, lists under a bold title)."""

from __future__ import annotations

import html
from typing import Any

from cti_desktop.i18n import Tr


def esc(value: Any) -> str:
    """A value as HTML text; "—" for none or empty."""
    return html.escape(str(value)) if value not in (None, "") else "—"


def status_cell(t: Tr, case: dict[str, Any]) -> str:
    return f"<b>{esc(t.maybe('status', case.get('status')))}</b>"


def citizen_cell(case: dict[str, Any]) -> str:
    """The citizen's name and number (the contact given, else the caller's)."""
    return f"{esc(case.get('citizen_name'))} {esc(case.get('contact') or case.get('caller'))}"


def overdue_cell(t: Tr, when: str) -> str:
    """A deadline (`when`, HTML) marked as passed."""
    return f"<b style='color:#b00020'>⚠ {t('overdue')} {when}</b>"


def case_html(t: Tr, case: dict[str, Any], rows: list[tuple[str, str]], more: list[str]) -> str:
    """The case's number, `rows` (label, HTML value) as a table, its request, then `more` (HTML)."""
    out = [f"<h3>{esc(case.get('number'))}</h3><table cellspacing='2'>"]
    out += [f"<tr><td style='color:#555'>{k}</td><td>{v}</td></tr>" for k, v in rows]
    out.append(f"</table><p><b>{t('request')}</b><br>{esc(case.get('request'))}</p>")
    return "".join(out + more)


def resolution(t: Tr, case: dict[str, Any]) -> str:
    """The case's resolution (the centre's, or the units' results joined) as a titled paragraph."""
    return f"<p><b>{t('work_resolution')}</b><br>{esc(case['resolution'])}</p>"


def titled_list(title: str, items: list[str]) -> list[str]:
    """`items` (HTML) as a bulleted list under the bold `title`; nothing when there are none."""
    return [f"<p><b>{title}</b></p><ul>", *(f"<li>{item}</li>" for item in items), "</ul>"] if items else []

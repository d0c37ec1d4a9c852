"""Caller numbers as the network delivers them, and the one rule for a withheld number.

A caller who withholds their number reaches Asterisk with a caller id such as `anonymous`, `Anonymous`,
`unknown`, `<unknown>` (Asterisk's own text for none), `restricted`, `private`, `unavailable` or nothing at
all. Such a text is shared by every caller who withholds: matching it would show one citizen the cases
of another, and dialling it back reaches nobody. So a withheld caller is never matched to earlier cases,
never offered or given a callback, and is stored as `WITHHELD`.

The rule: a caller id is withheld when, once spaces, angle brackets and quotes are taken off, it has no
digit at all. Every caller id a carrier trunk delivers for a reachable caller has digits; every form of
"no number" above has none. The dialplan applies the same rule (`FILTER(0-9,...)` empty)."""

from __future__ import annotations

WITHHELD = "withheld"
"""How a withheld caller is stored (calls.caller, cases.caller) and shown: one value for every form."""

KNOWN_FORMS = frozenset(
    {"", "anonymous", "unknown", "<unknown>", "restricted", "private", "unavailable", "withheld", "blocked"}
)
"""Forms seen from carriers and Asterisk (lower-cased). Documentation and tests: the rule below covers them."""


def is_withheld(number: str | None) -> bool:
    """True when `number` (a caller id as received: None, empty, a word, or a number with `+`, spaces or
    dashes) identifies no one: it has no digit once spaces, `<>` and quotes are stripped."""
    if number is None:
        return True
    return not any(ch.isdigit() for ch in number.strip().strip("<>\"' "))


def caller_number(number: str | None) -> str:
    """The caller id to store and show: `WITHHELD` for a withheld one, else the number without surrounding
    spaces. Never None: a call's caller is either a number or known to be withheld."""
    if is_withheld(number):
        return WITHHELD
    assert number is not None
    return number.strip()

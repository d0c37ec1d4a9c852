"""Phone numbers: the one component for every place the platform receives, stores or compares a number.

Carriers deliver the same number in many forms. A citizen dialing the mayor's hotline 12345 reaches the
platform as `12345`, `+8612345`, `8612345`, `099112345` (trunk prefix 0 and Urumqi's area code 991) or
`+86099112345`; a caller's mobile arrives as `13812345678`, `+8613812345678` or `008613812345678`, a
landline as `09914567890`, `+869914567890` or, local, `4567890`. Every one of them is read here, with
Google's libphonenumber (the `phonenumbers` package: country codes, trunk and international prefixes,
number lengths and ranges, area codes of every region) and the rules of the trunk the number came
through (`NumberRules`: the centre's region, the trunk's area code, the carrier's own prefixes).

What is stored and compared is one canonical form per number (`Number.canonical`), beside the form as
received (`Number.raw`):

* a number of the centre's region (China): its national form, digits only, as it is dialled within the
  country: mobiles `13812345678`, landlines with trunk prefix and area code `09914567890`. This is the
  form agents read and the carrier trunk dials back, and it is a one-to-one image of E.164 (+86...)
  within the region;
* a number of another country: E.164 (`+16502530000`);
* a withheld caller: `WITHHELD` (below);
* something phonenumbers does not recognise as a number of any country (a short code such as `12345`,
  an internal extension): its digits as phonenumbers reads them, so that two forms of it still compare.

`Number.e164` is the international standard form, for other systems (the exchange with a hotline's own
system). Dialed hotline numbers are read with `NumberPlan.hotline_of`, and the same reading is rendered
into the dialplan's per-trunk tables at configuration time (`NumberPlan.dialed_forms`), so Asterisk finds
the hotline of any form without running a script per call, and the two can never disagree.

Withheld callers. A caller who withholds their number reaches Asterisk with a caller id such as
`anonymous`, `Anonymous`, `unknown`, `<unknown>` (Asterisk's own text for none), `restricted`, `private`,
`unavailable` or nothing at all. Such a text is shared by every caller who withholds: matching it would
show one citizen the cases of another, and dialling it back reaches nobody. So a withheld caller is never
matched to earlier cases, never offered or given a callback, and is stored as `WITHHELD`. The rule: a
caller id is withheld when, once spaces, angle brackets and quotes are taken off, it has no digit at all.
Every caller id a carrier trunk delivers for a reachable caller has digits; every form of "no number"
above has none. The dialplan applies the same rule (`FILTER(0-9,...)` empty)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from ari_app.protocol import WITHHELD

if TYPE_CHECKING:
    from ari_app.config import Config


KNOWN_FORMS = frozenset(
    {"", "anonymous", "unknown", "<unknown>", "restricted", "private", "unavailable", "withheld", "blocked"}
)
"""Forms seen from carriers and Asterisk (lower-cased). Documentation and tests: the rule below covers them."""

DEFAULT_REGION = "CN"
"""The centre's region when the configuration names none (`centre.region`)."""

MAX_DIGITS = 20
"""The most digits a number may have, prefixes included (E.164 allows 15 after the country code)."""

STORED_LENGTH = 40
"""The width of the number columns (calls.caller, cases.contact, ...): a longer text is cut to it."""

RAW_LENGTH = 64
"""The width of the columns keeping a number as received (calls.caller_raw, ...)."""

_SEPARATORS = re.compile(r"[\s\-.()/]")
_DIALABLE = re.compile(r"^\+?[0-9]+$")


def is_withheld(number: str | None) -> bool:
    """True when `number` (a caller id as received: None, empty, a word, or a number with `+`, spaces or
    dashes) identifies no one: it has no digit once spaces, `<>` and quotes are stripped."""
    if number is None:
        return True
    return not any(ch.isdigit() for ch in number.strip().strip("<>\"' "))


def caller_number(number: str | None) -> str:
    """The withheld rule alone: `WITHHELD` for a withheld caller id, else the text without surrounding
    spaces. Never None. (`NumberPlan.caller` applies this rule and then reads the number.)"""
    if is_withheld(number):
        return WITHHELD
    assert number is not None
    return number.strip()


class NumberError(ValueError):
    """A text that is not a phone number, with the reason in words (shown to the agent who typed it)."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r} is not a phone number: {reason}")
        self.text = text
        self.reason = reason


# --- regions and area codes ----------------------------------------------------------------------------


def region_problem(region: str) -> str | None:
    """Why `region` cannot be the centre's region (None when it can): it must be a region code
    phonenumbers knows (ISO 3166-1 alpha-2, upper case: CN)."""
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return f"expected a region code phonenumbers knows (ISO 3166 such as CN), got {region!r}"
    return None


def _metadata(region: str) -> phonenumbers.PhoneMetadata:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        raise ValueError(f"unknown region {region!r}")
    return meta


def area_code_problem(area_code: str, region: str) -> str | None:
    """Why `area_code` is not an area code of `region` (None when it is): digits, written without the
    trunk prefix (`991`, not `0991`), and a geographic area phonenumbers knows (a landline number in it is
    valid and has exactly this area code)."""
    if not area_code.isdigit() or not 1 <= len(area_code) <= 6:
        return f'expected an area code of digits such as "991", got {area_code!r}'
    prefix = _metadata(region).national_prefix or ""
    if prefix and area_code.startswith(prefix):
        return f'write the area code without the trunk prefix {prefix}: "{area_code[len(prefix) :]}"'
    if _landline_in(area_code, region) is None:
        return f"{area_code} is not an area code of {region} (phonenumbers knows no landline numbers in it)"
    return None


def describe_area(area_code: str, region: str, language: str = "en") -> str | None:
    """The place phonenumbers names for an area code of `region` ("Urumqi, Xinjiang" for 991 in CN), or
    None when no landline number with that area code is valid."""
    number = _landline_in(area_code, region)
    if number is None:
        return None
    # imported here: its place names take 0.65 s to load, which every `hotline` command reading the
    # config would otherwise pay
    from phonenumbers import geocoder

    place: str = geocoder.description_for_number(number, language)
    return place or area_code


def _landline_in(area_code: str, region: str) -> PhoneNumber | None:
    """A valid landline number of `region` whose geographic area code is exactly `area_code`, or None."""
    prefix = _metadata(region).national_prefix or ""
    for subscriber in ("2345678", "23456789", "4567890", "45678901", "6543210", "65432101", "8765432", "87654321"):
        try:
            number = phonenumbers.parse(prefix + area_code + subscriber, region)
        except NumberParseException:
            continue
        if (
            phonenumbers.is_valid_number(number)
            and phonenumbers.national_significant_number(number).startswith(area_code)
            and phonenumbers.length_of_geographical_area_code(number) == len(area_code)
        ):
            return number
    return None


# --- rules and numbers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberRules:
    """How the numbers one trunk delivers are read (config.yaml `trunks[].numbers`, defaults from `centre`).

    `region`: the centre's region; its country code (86), trunk prefix (0) and international prefix (00)
    are phonenumbers' data, never written by hand. `area_code`: the trunk's area (991: Urumqi): a dialed
    number may carry it, and a caller's local number without it is in this area. `strip_prefixes`: the
    carrier's own prefixes put before a number (an IP-dialling code such as 10193), taken off."""

    region: str = DEFAULT_REGION
    area_code: str | None = None
    strip_prefixes: tuple[str, ...] = ()

    @cached_property
    def country_code(self) -> str:
        return str(phonenumbers.country_code_for_region(self.region))

    @cached_property
    def trunk_prefix(self) -> str:
        return _metadata(self.region).national_prefix or ""

    @cached_property
    def international_prefix(self) -> str:
        """The prefix for calling abroad (00 in CN): phonenumbers' preferred one, or its pattern when that
        is plain digits."""
        meta = _metadata(self.region)
        for prefix in (meta.preferred_international_prefix, meta.international_prefix):
            if prefix and prefix.isdigit():
                return prefix
        return "00"

    def describe(self) -> str:
        """One line for the rendered dialplan and `hotline config check`."""
        parts = [f"region {self.region} (country code {self.country_code}, trunk prefix {self.trunk_prefix or '-'})"]
        if self.area_code:
            parts.append(f"area code {self.area_code} ({describe_area(self.area_code, self.region) or '?'})")
        if self.strip_prefixes:
            parts.append(f"carrier prefixes {', '.join(self.strip_prefixes)} taken off")
        return ", ".join(parts)


@dataclass(frozen=True)
class Number:
    """One phone number as received (`raw`) and as stored and compared (`canonical`).

    `valid` says whether phonenumbers knows it as a number in service in its country (a short code such as
    12345 is not); `e164` is then its international form (+8613812345678), else None."""

    raw: str
    canonical: str
    e164: str | None = None
    valid: bool = False

    @property
    def withheld(self) -> bool:
        return self.canonical == WITHHELD


def _clean(text: str) -> str:
    """The digits of `text` with an optional leading `+`, separators (spaces, - . ( ) /) taken out.
    NumberError for anything else."""
    stripped = text.strip()
    if not stripped:
        raise NumberError(text, "it is empty")
    digits = _SEPARATORS.sub("", stripped)
    if digits == "+":
        raise NumberError(text, "it has no digits")
    if not _DIALABLE.match(digits):
        if "+" in digits[1:]:
            raise NumberError(text, "a + may only stand at the start")
        return_chars = sorted({ch for ch in digits if not (ch.isdigit() or ch == "+")})
        raise NumberError(
            text, f"only digits, a leading + and the separators - . ( ) / may appear, not {''.join(return_chars)!r}"
        )
    count = len(digits.lstrip("+"))
    if count > MAX_DIGITS:
        raise NumberError(text, f"it has {count} digits, more than the {MAX_DIGITS} a number may have")
    return digits


class NumberPlan:
    """The deployment's number rules: the centre's (`default`: numbers typed by agents, numbers of unknown
    origin), each trunk's, and the hotline numbers. Every reading of a number goes through one of these
    methods:

    * `caller(raw, trunk)`: a caller id as received; never fails (what the network sends is kept);
    * `parse(text, trunk)`: a number someone typed; NumberError with the reason when it is not one;
    * `hotline_of(dialed, trunk)` / `dialed(raw, trunk)`: the hotline a dialed number reaches;
    * `dialed_forms(trunk)`: every form in which the trunk may deliver each hotline (for the dialplan);
    * `dial_string(number, trunk)`: how to dial a stored number out through a trunk (callbacks);
    * `outbound(text, trunk)`: a number someone typed to be called now (transfers, three-way calls, a
      supervisor's phone), as the digits to dial."""

    def __init__(
        self,
        default: NumberRules | None = None,
        trunks: Mapping[str, NumberRules] | None = None,
        hotlines: Iterable[str] = (),
    ) -> None:
        self.default = default or NumberRules()
        self.trunks = dict(trunks or {})
        self._ordered = tuple(dict.fromkeys(hotlines))
        self.hotlines = frozenset(self._ordered)
        self.region = self.default.region

    @classmethod
    def from_config(cls, cfg: Config) -> NumberPlan:
        return cls(cfg.numbers, {t.name: t.numbers for t in cfg.trunks}, [h.number for h in cfg.hotlines])

    def rules_for(self, trunk: str | None) -> NumberRules:
        """The trunk's rules; the centre's for None or a name that is not a trunk."""
        return self.trunks.get(trunk or "", self.default)

    def trunk_of(self, channel: str | None) -> str | None:
        """The trunk a channel belongs to (`PJSIP/carrier-telecom-0000002a` -> `carrier-telecom`), or None
        when it is not one of the configured trunks' channels."""
        if not channel or "/" not in channel:
            return None
        name = channel.split("/", 1)[1].rsplit("-", 1)[0]
        return name if name in self.trunks else None

    # --- callers and typed numbers -----------------------------------------------------------------------
    def caller(self, raw: str | None, trunk: str | None = None) -> Number:
        """A caller id as received through `trunk` (None: typed, or of unknown origin): `WITHHELD` for a
        withheld one, else the number read with the trunk's rules. A caller id that is not a number (a SIP
        user name with digits) is kept as received. Never raises."""
        text = (raw or "").strip()[:RAW_LENGTH]
        if is_withheld(text):
            return Number(raw=text, canonical=WITHHELD)
        try:
            return self.parse(text, trunk)
        except NumberError:
            return Number(raw=text, canonical=text[:STORED_LENGTH])

    def parse(self, text: str, trunk: str | None = None) -> Number:
        """A number someone typed (or a caller id), read with the rules of `trunk` (None: the centre's).
        NumberError, with the reason, when the text is not a phone number: empty, letters, a misplaced `+`,
        too many digits, an international form with a country code no country has or without a number after
        it. A number phonenumbers does not know as in service (a short code such as 12345, an extension) is
        accepted as its digits."""
        rules = self.rules_for(trunk)
        digits = _clean(text)
        raw = text.strip()[:RAW_LENGTH]
        found = self._interpret(digits, rules)
        if found is not None:
            return self._number(raw, found, valid=True)
        try:
            number = phonenumbers.parse(digits, rules.region)
        except NumberParseException as exc:
            if digits.isdigit() and exc.error_type in (
                NumberParseException.NOT_A_NUMBER,
                NumberParseException.TOO_SHORT_NSN,
            ):
                return Number(raw=raw, canonical=digits)  # a short number (an extension): its digits
            raise NumberError(text, _parse_reason(exc)) from None
        if phonenumbers.region_code_for_country_code(number.country_code or 0) == "ZZ":
            raise NumberError(text, f"no country has the calling code +{number.country_code}")
        if not digits.startswith(("+", "00")) and digits.isdigit() and str(number.country_code) != rules.country_code:
            # Written nationally, yet read as abroad: phonenumbers takes China's IP-dialling codes for an
            # international prefix (`1XXXX00`: 12675005544 became +55 44). No reading is in service, so the
            # number is kept as received rather than cut to what follows a prefix nobody dialled.
            return Number(raw=raw, canonical=digits[:STORED_LENGTH])
        return self._number(raw, number, valid=False)

    def _interpret(self, digits: str, rules: NumberRules) -> PhoneNumber | None:
        """The valid number `digits` stands for, trying in turn: as given; with the country code sent
        without + (8613812345678); a local number without area code (4567890 in area 991); each of these
        after a carrier prefix. None when no reading is a valid number."""
        candidates = [digits]
        if not digits.startswith("+"):
            candidates += [digits[len(p) :] for p in rules.strip_prefixes if digits.startswith(p) and digits != p]
        for candidate in candidates:
            readings = [candidate]
            if not candidate.startswith("+"):
                if candidate.startswith(rules.country_code):
                    readings.append("+" + candidate)
                if rules.area_code and not candidate.startswith(rules.trunk_prefix or "+"):
                    readings.append(rules.trunk_prefix + rules.area_code + candidate)
            for reading in readings:
                try:
                    number = phonenumbers.parse(reading, rules.region)
                except NumberParseException:
                    continue
                if phonenumbers.is_valid_number(number):
                    return number
        return None

    def _number(self, raw: str, number: PhoneNumber, *, valid: bool) -> Number:
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        home = phonenumbers.region_code_for_country_code(number.country_code or 0) == self.region or (
            str(number.country_code) == self.default.country_code
        )
        if home:
            canonical = _digits(phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL))
        else:
            canonical = e164
        return Number(raw=raw, canonical=canonical[:STORED_LENGTH], e164=e164 if valid else None, valid=valid)

    def same(self, a: str | None, b: str | None) -> bool:
        """Whether two caller ids or typed numbers are the same reachable number (never for withheld)."""
        x, y = self.caller(a), self.caller(b)
        return not x.withheld and x.canonical == y.canonical

    def international(self, number: str | None) -> str | None:
        """A stored or typed number for other systems: E.164 (+8613812345678) when it is a number in
        service, else its canonical form (a short code); None for none or a withheld caller."""
        if number is None or not number.strip():
            return None
        found = self.caller(number)
        return None if found.withheld else (found.e164 or found.canonical)

    # --- dialed numbers ----------------------------------------------------------------------------------
    def hotline_of(self, dialed: str | None, trunk: str | None = None) -> str | None:
        """The hotline a number dialed through `trunk` reaches, or None: the number itself, or once what the
        carrier added is taken off: a carrier prefix, the country code (+86, 0086, or 86 without +), the
        trunk prefix (0) and the trunk's area code (991). `+86099112345` -> `12345`."""
        if not dialed:
            return None
        try:
            digits = _clean(dialed)
        except NumberError:
            return None
        if digits in self.hotlines:
            return digits
        rules = self.rules_for(trunk)
        candidates = [digits]
        if not digits.startswith("+"):
            candidates += [digits[len(p) :] for p in rules.strip_prefixes if digits.startswith(p) and digits != p]
        for candidate in candidates:
            for national in self._national_readings(candidate, rules):
                if national in self.hotlines:
                    return national
                area = rules.area_code
                if area and national.startswith(area) and national[len(area) :] in self.hotlines:
                    return national[len(area) :]
        return None

    def _national_readings(self, candidate: str, rules: NumberRules) -> list[str]:
        """`candidate` as given and its national significant numbers (country code and trunk prefix off),
        as phonenumbers reads it, and with the country code sent without +."""
        out = [candidate]
        readings = [candidate]
        if not candidate.startswith("+") and candidate.startswith(rules.country_code):
            readings.append("+" + candidate)
        for reading in readings:
            try:
                number = phonenumbers.parse(reading, rules.region)
            except NumberParseException:
                continue
            if str(number.country_code) == rules.country_code:
                out.append(phonenumbers.national_significant_number(number))
        return out

    def dialed(self, raw: str | None, trunk: str | None = None) -> Number:
        """A dialed number as received (`raw`) and read: the hotline it reaches, or else the number as
        `parse` reads it (kept as received when it is none): a number that is not a hotline, for the
        records. Never raises; empty for none."""
        text = (raw or "").strip()[:RAW_LENGTH]
        hotline = self.hotline_of(text, trunk)
        if hotline is not None:
            return Number(raw=text, canonical=hotline)
        try:
            return self.parse(text, trunk)
        except NumberError:
            return Number(raw=text, canonical=text[:STORED_LENGTH])

    def dialed_forms(self, trunk: str | None) -> dict[str, str]:
        """Every form in which `trunk` may deliver each hotline number, to the hotline it reaches, in a
        stable order: the number itself; with the country code (`+8612345`, `8612345`, `008612345`); with the
        area code (`099112345`, `99112345`, `+8699112345`, `+86099112345`, ...); each also after a carrier
        prefix. Only forms `hotline_of` reads as that hotline are kept, so the dialplan and this component
        never disagree."""
        rules = self.rules_for(trunk)
        cc, tp, ip, area = rules.country_code, rules.trunk_prefix, rules.international_prefix, rules.area_code
        out: dict[str, str] = {}
        for hotline in self._ordered:
            nationals = [hotline]
            if area:
                nationals += [tp + area + hotline, area + hotline]
            intl = [hotline] + ([area + hotline, tp + area + hotline] if area else [])
            forms = list(nationals)
            for national in intl:
                forms += ["+" + cc + national, cc + national, ip + cc + national]
            forms += [p + form for p in rules.strip_prefixes for form in list(forms) if not form.startswith("+")]
            for form in forms:
                if form not in out and self.hotline_of(form, trunk) == hotline:
                    out[form] = hotline
        return out

    def dial_string(self, number: str, trunk: str | None = None) -> str:
        """How to dial a stored number out through `trunk`: a number of the centre's region in its national
        form (13812345678, 09914567890), one of another country with the international prefix
        (0016502530000), anything else as it is."""
        rules = self.rules_for(trunk)
        found = self.caller(number, trunk)
        if found.e164 is None:
            return found.canonical
        parsed = phonenumbers.parse(found.e164, None)
        return _digits(phonenumbers.format_out_of_country_calling_number(parsed, rules.region))

    def outbound(self, text: str, trunk: str | None = None) -> str:
        """A number someone typed to be called now (a unit's contact number for a transfer or a three-way
        call, a supervisor's phone): read with the centre's rules (`parse`: spaces, dashes and brackets,
        +86 or 0086, the area code with its trunk prefix, a short number such as 110 or 12345), returned as
        the digits to dial through `trunk` (`dial_string`: 09914567890, 13812345678, 0016502530000).
        NumberError with the reason when the text is not a phone number, or has fewer than MIN_DIALABLE
        digits."""
        found = self.parse(text)
        dial = self.dial_string(found.canonical, trunk)
        if len(dial.lstrip("+")) < MIN_DIALABLE:
            raise NumberError(text, f"it has fewer than the {MIN_DIALABLE} digits a number to call has")
        return dial


MIN_DIALABLE = 3
"""Digits a number to call has at least (110, 119, 120 are the shortest called from a hotline)."""


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit() or ch == "+")


def _parse_reason(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "it starts with a country code no country has",
        NumberParseException.NOT_A_NUMBER: "it has too few digits",
        NumberParseException.TOO_SHORT_AFTER_IDD: "it has too few digits after the international prefix",
        NumberParseException.TOO_SHORT_NSN: "it has too few digits",
        NumberParseException.TOO_LONG: "it has too many digits",
    }.get(exc.error_type, str(exc))

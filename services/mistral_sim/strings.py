"""String values: the part of the user's message that fits a parameter, by format and kind.

Each reader returns None when the message offers nothing for the parameter, so an optional
parameter can be left out; `fallback` then gives a required one something sensible.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from services.mistral_sim.facts import SMALL_WORDS, Facts, fold
from services.mistral_sim.hints import Hint

_LANGUAGES = {
    "english": "en", "french": "fr", "german": "de", "spanish": "es", "italian": "it",
    "portuguese": "pt", "dutch": "nl", "japanese": "ja", "chinese": "zh", "korean": "ko",
    "russian": "ru", "arabic": "ar", "hindi": "hi", "polish": "pl", "swedish": "sv",
}  # fmt: skip
_CURRENCIES = {
    "usd": "USD", "dollar": "USD", "dollars": "USD", "$": "USD", "eur": "EUR", "euro": "EUR",
    "euros": "EUR", "€": "EUR", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "£": "GBP",
    "jpy": "JPY", "yen": "JPY", "chf": "CHF", "francs": "CHF",
}  # fmt: skip
# Leading words that ask rather than say: dropped from a free-text value.
_ASKING = re.compile(
    r"^(?:(?:please|pls|hey|ok|okay|so|now|and|also|then)\b[\s,]*)*"
    r"(?:(?:can|could|would|will) you\s+|i(?:'d| would) like (?:you )?to\s+|i want (?:you )?to\s+"
    r"|i need (?:you )?to\s+|let'?s\s+|help me\s+)?"
    r"(?:(?:tell|show|give|get|find|fetch|look up|search(?: for)?|check|list|what(?:'s| is| are)"
    r"|who(?:'s| is)|where(?:'s| is)|how (?:much|many)|how(?:'s| is))\b\s*(?:me\s+)?)?",
    re.I,
)
_DESCRIBED_ZONE = re.compile(r"\buse\s+['\"]?([A-Za-z_]+(?:/[A-Za-z_+-]+)*)['\"]?", re.I)


def _value_after_name(hint: Hint, facts: Facts) -> str | None:
    """`name: Alice`, `branch is main`, `title "Q3 plan"`: the value the text gives by name."""
    for word in sorted(set(hint.name_words) - {"the", "of"}, key=len, reverse=True):
        pattern = rf"\b{re.escape(word)}s?\b\s*(?:is|=|:|named|called|to|as)?\s*"
        pattern += r"(\"[^\"]+\"|'[^']+'|[\w./@:+-]+)"
        match = re.search(pattern, facts.text, re.I)
        if match and fold(match.group(1)) not in SMALL_WORDS:
            return match.group(1).strip("\"'")
    return None


def _zone(hint: Hint, facts: Facts, used: set[str]) -> str | None:
    """An IANA zone. A `source`/`from` parameter takes the place after "from" (or, of several,
    the first not after "to"); a `target`/`to` one the place after "to" (or the last not after
    "from"); a lone place the message does not say is the source is the target. Other
    parameters take the first zone not used yet."""
    places = [p for p in facts.places if p.zone]
    words = set(hint.name_words)
    chosen = None
    if words & {"source", "from", "origin"}:
        chosen = next((p for p in places if p.preposition == "from"), None)
        if chosen is None and len(places) > 1:
            chosen = next((p for p in places if p.preposition not in ("to", "into")), None)
    elif words & {"target", "to", "destination"}:
        chosen = next((p for p in places if p.preposition in ("to", "into")), None)
        if chosen is None:
            chosen = next((p for p in reversed(places) if p.preposition != "from"), None)
    else:
        chosen = next((p for p in places if p.zone not in used), None)
    return chosen.zone if chosen else None


def _place(facts: Facts, used: set[str]) -> str | None:
    return next((p.name for p in facts.places if p.name not in used), None)


def _person(hint: Hint, facts: Facts, used: set[str]) -> str | None:
    names = [name for name in (*facts.quoted, *facts.names) if name not in used]
    if not names:
        return None
    parts = names[0].split()
    if "first" in hint.name_words or "given" in hint.name_words:
        return parts[0]
    if "last" in hint.name_words or "family" in hint.name_words or "surname" in hint.name_words:
        return parts[-1]
    return names[0]


def _first_word_in(table: dict[str, str], facts: Facts) -> str | None:
    text = fold(facts.text)
    for token in re.findall(r"[a-z]+|[$€£]", text):
        if token in table:
            return table[token]
    return None


def _identifier(facts: Facts) -> str | None:
    quoted = next(iter(facts.quoted), None)
    if quoted:
        return quoted
    match = re.search(r"#?\b([A-Za-z]*\d[\w-]*)\b", facts.text)
    return match.group(1) if match else None


def topic(facts: Facts, skip: frozenset[str] = frozenset()) -> str:
    """The message without its asking words and the tool's own words: what it is about."""
    text = _ASKING.sub("", facts.subject).strip()
    words = text.split()
    while words and (fold(words[0]).strip(",:") in skip or fold(words[0]) in ("the", "a", "an")):
        words.pop(0)
    while words and fold(words[0]) in ("for", "about", "on", "of", "in", "to", "with"):
        words.pop(0)
    return " ".join(words) or facts.subject or "default"


def _unused(values: tuple[str, ...], used: set[str]) -> str | None:
    return next((item for item in values if item not in used), None)


def by_format(fmt: str, facts: Facts, required: bool, used: set[str]) -> str | None:
    """Values for the JSON-schema formats (each found one used once, so a list of emails gets
    every email); a required one always gets a valid value."""
    iso_dates = tuple(date.isoformat() for date in facts.dates)
    date = _unused(iso_dates, used) or (facts.today.isoformat() if required else None)
    time = facts.times[0] if facts.times else None
    if fmt == "date":
        return date
    if fmt == "date-time":
        if facts.datetimes:
            found = facts.datetimes[0]
            return found if re.search(r"(Z|[+-]\d\d:?\d\d)$", found) else f"{found[:16]}:00Z"
        day = facts.dates[0] if facts.dates else facts.today
        if not (facts.dates or time or required):
            return None
        return f"{day.isoformat()}T{time or '00:00'}:00Z"
    if fmt == "time":
        return f"{time}:00Z" if time else ("00:00:00Z" if required else None)
    if fmt == "email":
        return _unused(facts.emails, used) or ("user@example.com" if required else None)
    if fmt in ("uri", "url", "iri", "uri-reference"):
        url = _unused(facts.urls, used)
        if url and not url.startswith("http"):
            url = f"https://{url}"
        return url or ("https://example.com" if required else None)
    if fmt == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_URL, facts.text)) if required else None
    if fmt in ("ipv4", "ipv6", "hostname"):
        defaults = {"ipv4": "127.0.0.1", "ipv6": "::1", "hostname": "example.com"}
        return defaults[fmt] if required else None
    return None


def by_kind(hint: Hint, facts: Facts, used: set[str], reply: str | None) -> str | None:
    """The part of the message that fits the parameter's kind, or None."""
    kind = hint.kind
    readers: dict[str, Callable[[], str | None]] = {
        "query": lambda: facts.text.strip() or None,
        "answer": lambda: reply if reply is not None else (facts.text.strip() or None),
        "zone": lambda: _zone(hint, facts, used),
        "time": lambda: next(iter(facts.times), None),
        "date": lambda: facts.dates[0].isoformat() if facts.dates else None,
        "place": lambda: _place(facts, used),
        "person": lambda: _person(hint, facts, used),
        "title": lambda: next(iter(facts.quoted), None),
        "path": lambda: next(iter(facts.paths), None),
        "url": lambda: next(iter(facts.urls), None),
        "email": lambda: next(iter(facts.emails), None),
        "language": lambda: _first_word_in(_LANGUAGES, facts),
        "currency": lambda: _first_word_in(_CURRENCIES, facts),
        "id": lambda: _identifier(facts),
    }
    found = readers[kind]() if kind in readers else None
    return found if found is not None else _value_after_name(hint, facts)


def fallback(hint: Hint, facts: Facts, schema: dict[str, Any], skip: frozenset[str]) -> str:
    """A value for a required string the message says nothing about."""
    if isinstance(schema.get("default"), str):
        return str(schema["default"])
    kind = hint.kind
    if kind == "zone":
        described = _DESCRIBED_ZONE.search(hint.description)
        return described.group(1) if described else "UTC"
    if kind == "time":
        return "12:00"
    if kind == "date":
        return facts.today.isoformat()
    if kind == "language":
        return "en"
    if kind == "currency":
        return "USD"
    if kind == "path":
        return "."
    return topic(facts, skip)

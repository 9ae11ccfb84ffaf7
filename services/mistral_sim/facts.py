"""What a user's message says that a parameter may want: numbers with the words around them,
dates, times, IANA zones, places, names, emails, URLs, paths and quoted strings.

All of it is read with plain patterns, so the same text always gives the same facts.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass, field
from functools import cache

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20, "thirty": 30, "fifty": 50,
    "hundred": 100, "a couple of": 2, "a dozen": 12,
}  # fmt: skip
_NUMBER = re.compile(
    r"(?<![\w.:/-])(-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?)(k\b)?(?![\w:/]*[/:]\d)"
    r"|\b(" + "|".join(_WORD_NUMBERS) + r")\b",
    re.I,
)
_ISO_DATETIME = re.compile(
    r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_TIME = re.compile(
    r"\b(?:(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)|([01]?\d|2[0-3]):([0-5]\d))(?!\d)"
    r"|\b(noon|midday|midnight)\b",
    re.I,
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH_TEXT = (
    "january february march april may june july august september october november december"
)
_MONTHS = _MONTH_TEXT.split()
_MONTH_DAY = re.compile(
    r"\b(?:(\d{1,2})(?:st|nd|rd|th)?\s+(" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*"
    r"|(" + "|".join(m[:3] for m in _MONTHS) + r")[a-z]*\s+(\d{1,2})(?:st|nd|rd|th)?)\b",
    re.I,
)
_IANA = re.compile(r"\b(?:[A-Z][A-Za-z_-]+/)+[A-Z][A-Za-z_+-]+\b|\bUTC\b")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\bhttps?://[^\s\"'<>)]+|\bwww\.[^\s\"'<>)]+")
_PATH = re.compile(
    r"(?<![\w:/])(?:~|\.{1,2})?/[\w.@~+-]+(?:/[\w.@~+-]*)*|\b[\w-]+\.(?:py|md|txt|json|ya?ml|toml|js|ts|go|rs|csv|cfg|ini|sh)\b"
)
_QUOTED = re.compile(r"\"([^\"]{1,200})\"|'([^']{1,200})'|\u201c([^\u201d]{1,200})\u201d")
_CAPITALISED = re.compile(
    r"\b[A-Z][\w'.-]*(?:\s+(?:of|de|la|le|del|da|von|van|the|and|&)?\s*[A-Z][\w'.-]*)*"
)
_PLACE_AFTER = re.compile(
    r"\b(?:in|at|to|from|for|near|around|into|of)\s+((?:[A-Za-z][\w'-]*)(?:\s+[A-Za-z][\w'-]*){0,2})",
    re.I,
)
_SMALL_TEXT = """a an the this that these those my your our his her its their it i me we you he
    she they what which who whom when where why how is are was were be do does did can could
    would should
    will shall may might must please tell show give find get set log search look let today
    tomorrow yesterday now tonight morning evening afternoon and or but if then also with without
    for from in at to of on by about near around into up down out over under than as so just
    some any all every each no not ok okay hi hello hey thanks thank day days week weeks time
    times hour hours minute minutes year years month months am pm"""
SMALL_WORDS = frozenset(_SMALL_TEXT.split())  # words that never name a value
# Verbs that open a request: capitalised by grammar, not names.
_OPENERS_TEXT = """add answer book call check classify convert create delete describe email extract
    find generate list make meet move open parse plan remind reply return schedule send share
    show start stop summarize summarise translate update write"""
_OPENERS = frozenset(_OPENERS_TEXT.split())
# Zone city names that are also everyday words: they name a zone only when capitalised.
_AMBIGUOUS_TEXT = (
    "christmas easter wake jersey man troll casey davis palmer nome yap truk chatham mayotte "
    "faroe marengo monticello center knox vevay winamac tell petersburg vincennes salem beulah "
    "macquarie midway johnston currie"
)
_AMBIGUOUS_CITIES = frozenset(_AMBIGUOUS_TEXT.split())
_ZONE_AREAS = frozenset(
    (
        "Africa",
        "America",
        "Antarctica",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    )
)
# Countries, regions and abbreviations people name instead of a city.
_ZONE_ALIASES = {
    "utc": "UTC", "gmt": "UTC", "japan": "Asia/Tokyo", "jst": "Asia/Tokyo",
    "china": "Asia/Shanghai", "beijing": "Asia/Shanghai", "india": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata", "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata",
    "ist": "Asia/Kolkata", "france": "Europe/Paris", "germany": "Europe/Berlin",
    "spain": "Europe/Madrid", "italy": "Europe/Rome", "uk": "Europe/London",
    "england": "Europe/London", "britain": "Europe/London", "cet": "Europe/Paris",
    "korea": "Asia/Seoul", "russia": "Europe/Moscow", "brazil": "America/Sao_Paulo",
    "california": "America/Los_Angeles", "san francisco": "America/Los_Angeles",
    "seattle": "America/Los_Angeles", "pst": "America/Los_Angeles",
    "pdt": "America/Los_Angeles", "pacific time": "America/Los_Angeles",
    "est": "America/New_York", "edt": "America/New_York", "eastern time": "America/New_York",
    "boston": "America/New_York", "washington": "America/New_York",
    "miami": "America/New_York", "austin": "America/Chicago", "dallas": "America/Chicago",
    "houston": "America/Chicago", "cst": "America/Chicago", "australia": "Australia/Sydney",
    "canada": "America/Toronto", "mexico": "America/Mexico_City", "egypt": "Africa/Cairo",
}  # fmt: skip


def fold(text: str) -> str:
    """Lower case without accents: "São Paulo" -> "sao paulo"."""
    plain = unicodedata.normalize("NFKD", text)
    return "".join(c for c in plain if not unicodedata.combining(c)).lower()


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def _zone_cities() -> dict[str, str]:
    """City name (folded, spaces) -> IANA zone, from the zones this Python knows."""
    cities: dict[str, str] = {}
    for zone in sorted(_known_zones()):
        if zone.split("/")[0] in _ZONE_AREAS and "/" in zone:
            city = fold(zone.rsplit("/", 1)[1].replace("_", " "))
            cities.setdefault(city, zone)
    return {**cities, **_ZONE_ALIASES}


@dataclass(frozen=True)
class Number:
    value: float
    start: int
    end: int
    before: tuple[str, ...]  # up to three words before, folded
    after: tuple[str, ...]  # up to two words after

    @property
    def is_integer(self) -> bool:
        return self.value == int(self.value)


@dataclass(frozen=True)
class Place:
    name: str  # as written
    zone: str | None
    start: int
    preposition: str  # the word before it ("in", "from", "to"...), "" when none


@dataclass(frozen=True)
class Facts:
    text: str
    today: dt.date
    numbers: tuple[Number, ...] = ()
    dates: tuple[dt.date, ...] = ()
    times: tuple[str, ...] = ()  # "HH:MM", 24-hour
    datetimes: tuple[str, ...] = ()
    places: tuple[Place, ...] = ()
    zones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    quoted: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # capitalised phrases that are not sentence openers
    words: tuple[str, ...] = field(default=())  # every word, folded

    @property
    def subject(self) -> str:
        """The text without its trailing punctuation: what is asked about."""
        return self.text.strip().rstrip("?.! ")


def _words_around(text: str, start: int, end: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    before = re.findall(r"[\w%°$€£]+", fold(text[:start]))[-3:]
    after = re.findall(r"[\w%°$€£]+", fold(text[end:]))[:2]
    return tuple(before), tuple(after)


def _numbers(text: str, taken: list[tuple[int, int]]) -> tuple[Number, ...]:
    found = []
    for match in _NUMBER.finditer(text):
        if any(s <= match.start() < e for s, e in taken):
            continue  # part of a date, a time or a path
        if match.group(3):
            value = float(_WORD_NUMBERS[match.group(3).lower()])
        else:
            value = float(match.group(1).replace(",", "")) * (1000 if match.group(2) else 1)
        before, after = _words_around(text, match.start(), match.end())
        found.append(Number(value, match.start(), match.end(), before, after))
    return tuple(found)


def _time(match: re.Match[str]) -> str:
    if match.group(6):
        return "00:00" if match.group(6).lower() == "midnight" else "12:00"
    if match.group(4):
        return f"{int(match.group(4)):02d}:{match.group(5)}"
    hour, minute = int(match.group(1)) % 12, int(match.group(2) or 0)
    if match.group(3).lower().startswith("p"):
        hour += 12
    return f"{hour:02d}:{minute:02d}"


def _dates(text: str, today: dt.date) -> list[tuple[int, dt.date]]:
    lowered = fold(text)
    found: list[tuple[int, dt.date]] = []
    for match in _ISO_DATE.finditer(text):
        try:
            found.append((match.start(), dt.date(*(int(g) for g in match.groups()))))
        except ValueError:
            continue
    relative = {"day after tomorrow": 2, "tomorrow": 1, "today": 0, "tonight": 0}
    relative |= {"yesterday": -1, "now": 0}
    for phrase, days in relative.items():
        for match in re.finditer(rf"\b{phrase}\b", lowered):
            if not any(s <= match.start() < s + 20 for s, _ in found):
                found.append((match.start(), today + dt.timedelta(days=days)))
    for match in re.finditer(r"\bin (\d+) days?\b", lowered):
        found.append((match.start(), today + dt.timedelta(days=int(match.group(1)))))
    for index, name in enumerate(_WEEKDAYS):
        for match in re.finditer(rf"\b{name}\b", lowered):
            ahead = (index - today.weekday()) % 7 or 7
            found.append((match.start(), today + dt.timedelta(days=ahead)))
    for match in _MONTH_DAY.finditer(text):
        month_name = (match.group(2) or match.group(3)).lower()[:3]
        day = int(match.group(1) or match.group(4))
        month = [m[:3] for m in _MONTHS].index(month_name) + 1
        try:
            found.append((match.start(), dt.date(today.year, month, day)))
        except ValueError:
            continue
    return sorted(found, key=lambda item: item[0])


def _places(text: str) -> list[Place]:
    """Known zone cities (and country names), then capitalised words after a preposition."""
    cities = _zone_cities()
    folded = fold(text)
    places = [
        Place(m.group(0), m.group(0), m.start(), _preposition(folded, m.start()))
        for m in _IANA.finditer(text)
        if m.group(0) in _known_zones()
    ]
    tokens = [(m.start(), m.end()) for m in re.finditer(r"[a-z]+(?:['.-][a-z]+)*", folded)]
    used = {
        i
        for i, (start, _) in enumerate(tokens)
        if any(p.start <= start < p.start + len(p.name) for p in places)
    }
    for size in (3, 2, 1):
        for i in range(len(tokens) - size + 1):
            if any(j in used for j in range(i, i + size)):
                continue
            start, end = tokens[i][0], tokens[i + size - 1][1]
            key = folded[start:end]
            zone = cities.get(key)
            if zone is None or len(key) < 3:
                continue
            written = text[start:end]
            if key in _AMBIGUOUS_CITIES and not written[:1].isupper():
                continue
            if size == 1 and key in SMALL_WORDS:
                continue
            used.update(range(i, i + size))
            places.append(Place(written, zone, start, _preposition(folded, start)))
    for match in _PLACE_AFTER.finditer(text):
        start = match.start(1)
        if any(p.start <= start < p.start + len(p.name) for p in places):
            continue
        words = match.group(1).split()
        if not words[0][:1].isupper() or fold(words[0]) in SMALL_WORDS:
            continue
        name = " ".join(_leading_capitalised(words))
        places.append(Place(name, None, start, fold(text[match.start() : start]).strip()))
    return sorted(places, key=lambda place: place.start)


def _leading_capitalised(words: list[str]) -> list[str]:
    kept = []
    for word in words:
        if not word[:1].isupper():
            break
        kept.append(word.rstrip(".,;:!?"))
    return kept


def _preposition(folded: str, start: int) -> str:
    before = re.findall(r"[a-z]+", folded[:start])
    return before[-1] if before and before[-1] in ("in", "at", "to", "from", "for", "near") else ""


def _names(text: str) -> tuple[str, ...]:
    names = []
    for match in _CAPITALISED.finditer(text):
        phrase = match.group(0).rstrip(".'")
        first = phrase.split()[0]
        sentence_start = match.start() == 0 or text[: match.start()].rstrip()[-1:] in ".!?\n"
        if sentence_start and fold(first) in SMALL_WORDS | _OPENERS:
            rest = phrase[len(first) :].strip()
            if not rest:
                continue
            phrase = rest
        if fold(phrase) in SMALL_WORDS or len(phrase) < 2:
            continue
        names.append(phrase)
    return tuple(names)


def read(text: str, today: dt.date | None = None) -> Facts:
    """Everything `text` offers, in the order it says it."""
    today = today or dt.date.today()
    datetimes = [m.group(0).replace(" ", "T") for m in _ISO_DATETIME.finditer(text)]
    times = [(m.start(), m.end(), _time(m)) for m in _TIME.finditer(text)]
    dates = _dates(text, today)
    paths = [(m.start(), m.end(), m.group(0)) for m in _PATH.finditer(text)]
    urls = [(m.start(), m.end(), m.group(0).rstrip(".,;")) for m in _URL.finditer(text)]
    taken = [(s, e) for s, e, _ in [*times, *paths, *urls]]
    taken += [(m.start(), m.end()) for m in _ISO_DATE.finditer(text)]
    taken += [(m.start(), m.end()) for m in _MONTH_DAY.finditer(text)]
    places = _places(text)
    quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(text)]
    return Facts(
        text=text,
        today=today,
        numbers=_numbers(text, taken),
        dates=tuple(date for _, date in dates),
        times=tuple(time for _, _, time in times),
        datetimes=tuple(datetimes),
        places=tuple(places),
        zones=tuple(dict.fromkeys(p.zone for p in places if p.zone)),
        emails=tuple(_EMAIL.findall(text)),
        urls=tuple(url for _, _, url in urls if not _EMAIL.fullmatch(url)),
        paths=tuple(path for _, _, path in paths if not any(path in url for *_, url in urls)),
        quoted=tuple(quoted),
        names=_names(text),
        words=tuple(re.findall(r"[a-z0-9]+", fold(text))),
    )

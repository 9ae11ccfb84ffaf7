"""What a parameter is about, from its name and description: the words that let the filler
pick the part of the user's message that fits it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.mistral_sim.routing import stem

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def split_name(name: str) -> list[str]:
    """`user_query` / `userQuery` / `user-query` -> ["user", "query"]."""
    return [part for part in re.split(r"[_\-\s.]+", _CAMEL.sub("_", name).lower()) if part]


def _set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# kind -> words of a parameter's name that say it (checked first), then of its description.
KINDS: dict[str, frozenset[str]] = {
    "query": _set("query q question prompt input instruction utterance"),
    "answer": _set(
        "answer reply response summary explanation reason reasoning output result comment "
        "feedback note analysis text message content body description"
    ),
    "zone": _set("timezone tz zone iana"),
    "time": frozenset(["time", "hour", "clock"]),
    "date": _set("date day when deadline due birthday"),
    "path": _set("path file filename dir directory folder repo repository cwd"),
    "url": _set("url link website uri href endpoint homepage"),
    "email": frozenset(["email", "mail"]),
    "language": frozenset(["language", "lang", "locale"]),
    "currency": frozenset(["currency"]),
    "place": _set(
        "city location place destination origin address country region town venue area "
        "where state province"
    ),
    "title": _set("title subject topic headline heading label"),
    "person": _set(
        "name person author user username contact recipient attendee owner assignee who "
        "customer guest"
    ),
    "id": _set("id identifier key code sku ref reference number"),
}
# For a word in several kinds, the first of this order wins.
_ORDER = tuple(KINDS)
_GENERIC_HEADS = frozenset(["name", "value", "string", "str", "text", "address"])
# Kinds a description may give; words such as "text", "time" or "name" are in too many.
_DESCRIBED = ("zone", "query", "path", "url", "email", "place")


@dataclass(frozen=True)
class Hint:
    name: str
    name_words: tuple[str, ...]
    words: frozenset[str]  # stems of the name and description words
    description: str

    @property
    def kind(self) -> str:
        """The kind its name says, else the kind its description says, else "text".

        The last word of a name is its head (`user_id` is an id, `repo_path` a path), except
        a generic one: `city_name` is a place, `file_name` a path."""
        words = list(reversed(self.name_words))
        if len(words) > 1 and words[0] in _GENERIC_HEADS:
            words = [*words[1:], words[0]]
        for word in words:
            for kind in _ORDER:
                if word in KINDS[kind]:
                    return kind
        described = set(re.findall(r"[a-z]+", self.description.lower()))
        for kind in _DESCRIBED:
            if described & KINDS[kind]:
                return kind
        return "text"


def hint_of(name: str, schema: dict[str, Any]) -> Hint:
    description = " ".join(
        str(schema.get(key) or "") for key in ("title", "description") if schema.get(key)
    )
    name_words = tuple(split_name(name))
    described = re.findall(r"[a-z]+", description.lower())
    words = frozenset(stem(word) for word in [*name_words, *described] if len(word) > 1)
    return Hint(name, name_words, words, description)


def related(word: str, hint_words: frozenset[str]) -> bool:
    """Whether a word of the input (folded) means the same as one of the hint's stems."""
    stemmed = stem(word)
    for mine in hint_words:
        if stemmed == mine:
            return True
        short, long = sorted((stemmed, mine), key=len)
        if len(short) >= 4 and long.startswith(short):
            return True
    return False

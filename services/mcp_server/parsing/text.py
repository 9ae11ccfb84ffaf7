"""Tokens shared by the goal and food readers: lower-cased words, numbers and separators."""

from __future__ import annotations

import re

_UNICODE_FRACTIONS = {"½": " 1/2", "¼": " 1/4", "¾": " 3/4", "⅓": " 1/3", "⅔": " 2/3", "⅛": " 1/8"}
_TOKEN = re.compile(r"\d+(?:\.\d+)?(?:/\d+)?|[a-z][a-z'&%]*|[^\sa-z\d]")
# What ends one food item and starts the next.
SEPARATORS = frozenset({",", ";", ".", "!", "?", ":", "-", "+", "(", ")", "\n", "and", "with"})
SEPARATORS |= frozenset({"plus", "then", "also", "&", "/"})


def normalize(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    for symbol, ascii_form in _UNICODE_FRACTIONS.items():
        text = text.replace(symbol, ascii_form)
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 2,000 (and 2,000kcal) -> 2000
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # whole-wheat -> whole wheat
    return text


def tokenize(text: str) -> list[str]:
    """Words, numbers ("150g" -> "150", "g"; "1/2"; "1.5") and punctuation, in order."""
    return _TOKEN.findall(normalize(text))

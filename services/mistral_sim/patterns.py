"""The shortest plain string a regular expression accepts, for `pattern` constraints the
message cannot meet: "^[A-Z]{3}$" -> "AAA", "^\\d{4}-\\d{2}$" -> "0000-00"."""

from __future__ import annotations

import importlib
import re
from typing import Any

# The parser `re` itself uses (Python 3.11+; `sre_parse` is its deprecated alias).
sre_parse: Any = importlib.import_module("re._parser")

_CATEGORY_CHAR = {
    "CATEGORY_DIGIT": "0",
    "CATEGORY_NOT_DIGIT": "a",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "a",
    "CATEGORY_WORD": "a",
    "CATEGORY_NOT_WORD": "-",
}


def _char_in(items: list[tuple[Any, Any]]) -> str:
    """A character of a class `[...]`: its first literal, range start or category."""
    negated = any(str(op) == "NEGATE" for op, _ in items)
    for op, arg in items:
        name = str(op)
        if name == "LITERAL" and not negated:
            return chr(arg)
        if name == "RANGE" and not negated:
            return chr(arg[0])
        if name == "CATEGORY":
            return _CATEGORY_CHAR.get(str(arg), "a")
    return "a" if not negated else "~"


def _emit(parsed: Any) -> str:
    out = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_char_in(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _, body = arg
            out.append(_emit(body) * low)
        elif name == "SUBPATTERN":
            out.append(_emit(arg[-1]))
        elif name == "ATOMIC_GROUP":
            out.append(_emit(arg))
        elif name == "BRANCH":
            out.append(_emit(arg[1][0]))
        elif name == "CATEGORY":
            out.append(_CATEGORY_CHAR.get(str(arg), "a"))
        # AT (anchors), ASSERT, ASSERT_NOT, GROUPREF: nothing to emit
    return "".join(out)


def example(pattern: str) -> str | None:
    """A string that `re.search(pattern, ...)` accepts, or None when we cannot make one."""
    try:
        candidate = _emit(sre_parse.parse(pattern))
        return candidate if re.search(pattern, candidate) else None
    except (re.error, TypeError, ValueError, IndexError, OverflowError):
        return None

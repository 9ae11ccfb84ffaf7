"""Function results that report a failure, and the words that say so.

A result fails when its JSON says so (`isError`/`is_error: true`, an `error` field, `status:
"error"`, `success`/`ok: false`) or when its text reads as an error: "Error ...", "Failed ...",
the NutriSense tools' refusals ("... is outside the plausible range", "no goal found: ..."),
the platform's own ("The user did not approve ...", "The turn was stopped ...").
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

_ERROR_TEXT = re.compile(
    r"^\s*(?:error|exception|traceback|failed|failure|fatal|unable|cannot|can't|could not"
    r"|couldn't|invalid|unknown tool|denied|forbidden|unauthori[sz]ed|not found|no such"
    r"|refused|the user did not approve|the turn was stopped|no user identity)\b"
    r"|\b(?:error|exception)\s*[:(]|\bis outside the plausible range\b"
    r"|\bis not plausible\b|\bno goal found\b|\bno known food found\b|\bis missing from\b"
    r"|\bis not an iana zone\b|\bis too long\b|\bplease split it\b|\bunavailable\b"
    r"|\bnot allowed\b|\bpermission denied\b|\btimed out\b|\bmust be\b|\bno weight is known\b"
    r"|\bis not measured by\b|\bneeds a calorie goal\b|\bis in grams\b|\bwrite it in kcal\b",
    re.I,
)
_FLAGS = ("isError", "is_error", "error", "errors")
# What a failed call meant to do, by a fragment of the tool's name.
_ATTEMPTS = {
    "goal": "I could not set your goals",
    "log": "I could not log that",
    "recommend": "I could not find recommendations",
    "progress": "I could not get your progress",
}


def _parse(result: str) -> Any:
    try:
        return json.loads(result)
    except ValueError:
        pass
    if result[:1] in "[{":
        try:
            return ast.literal_eval(result)
        except (ValueError, SyntaxError):
            pass
    return result


def _text(value: Any) -> str:
    """The readable part of an error value: a string, a message field, MCP text blocks."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        for key in ("message", "detail", "error", "reason", "text", "content"):
            if value.get(key) not in (None, "", [], {}):
                return _text(value[key])
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "; ".join(part for part in (_text(item) for item in value) if part)
    return str(value)


def _flagged(value: dict[str, Any]) -> bool:
    if value.get("isError") is True or value.get("is_error") is True:
        return True
    if str(value.get("status", "")).lower() in ("error", "failed", "failure"):
        return True
    if value.get("success") is False or value.get("ok") is False:
        return True
    return any(value.get(key) not in (None, False, "", [], {}) for key in _FLAGS[2:])


def tool_error(result: str) -> str | None:
    """Why the call failed, when `result` reports a failure; None for a success."""
    value = _parse(result)
    if isinstance(value, dict):
        if not _flagged(value):
            return None
        for key in ("error", "errors", "message", "detail", "content"):
            if value.get(key) not in (None, "", [], {}, True):
                return _text(value[key]) or "no reason given"
        return "no reason given"
    text = _text(value) if isinstance(value, list) else str(value).strip()
    if isinstance(value, list) and text[:1] in "[{":
        return tool_error(text)  # MCP text blocks that hold JSON
    return text if _ERROR_TEXT.search(text) else None


def failure_reply(name: str, reason: str) -> str:
    """Says the tool failed and why, and what the user can do."""
    attempt = next((text for key, text in _ATTEMPTS.items() if key in name), None)
    lead = attempt or f"The {name} tool failed"
    reason = reason.rstrip(". ")
    return f"{lead}: {reason}. Could you check the details and try again?"

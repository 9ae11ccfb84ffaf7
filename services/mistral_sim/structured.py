"""`response_format`: answers as JSON when a caller asks for it.

`json_schema` gets a value that validates against the schema, filled from the user's message
(and, for fields such as `answer` or `summary`, from what the model would have said);
`json_object` gets an object: the keys the instructions or message show (`{"name": ..., "age":
...}` or "with keys name and age"), else `{"answer": ...}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from services.mistral_sim import facts, fill

_KEYS_LISTED = re.compile(
    r"\b(?:keys?|fields?|properties|attributes)\s*(?:named|called|:)?\s*"
    r"((?:[\"'`]?[A-Za-z_]\w*[\"'`]?(?:\s*,\s*|\s+and\s+|\s+)?){1,12})",
    re.I,
)
_QUOTED_KEY = re.compile(r"[\"']([A-Za-z_]\w*)[\"']\s*:")
# "Return the name and the ingredients in a JSON object": the things asked for, as keys.
_ASKED_FOR = re.compile(
    r"\b(?:return|give|provide|include|containing|with|list)\s+"
    r"((?:the\s+)?[a-z_]+(?:\s*,\s*(?:and\s+)?(?:the\s+)?[a-z_]+)*(?:\s+and\s+(?:the\s+)?[a-z_]+)?)"
    r"\s+(?:in|as)\b[^.]*\bjson\b",
    re.I,
)


def response_format(*sources: dict[str, Any] | None) -> dict[str, Any] | None:
    """The first `response_format` asking for JSON among completion args (or a bare format)."""
    for source in sources:
        if not source:
            continue
        found = source.get("response_format", source if "type" in source else None)
        if isinstance(found, dict) and found.get("type") in ("json_object", "json_schema"):
            return found
    return None


def render(fmt: dict[str, Any], user_text: str, reply: str, context: Sequence[str] = ()) -> str:
    """The JSON text answering `user_text` in the requested format."""
    spec = fmt.get("json_schema") if fmt.get("type") == "json_schema" else None
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if isinstance(schema, dict) and schema:
        ctx = fill.Context(facts=facts.read(user_text), root=schema, reply=reply)
        name = str(spec.get("name") or "") if isinstance(spec, dict) else ""
        return json.dumps(fill.value(schema, name, ctx, required=True), ensure_ascii=False)
    return json.dumps(_object(user_text, reply, context), ensure_ascii=False)


def _example(texts: Sequence[str]) -> dict[str, Any] | None:
    """A JSON object written out in the instructions or message, used as the shape."""
    for text in texts:
        for start in (m.start() for m in re.finditer(r"\{", text)):
            depth = 0
            for end in range(start, len(text)):
                depth += {"{": 1, "}": -1}.get(text[end], 0)
                if depth == 0:
                    try:
                        found = json.loads(text[start : end + 1])
                    except ValueError:
                        break
                    if isinstance(found, dict) and found:
                        return found
                    break
    return None


def _schema_of(example: Any) -> dict[str, Any]:
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, int | float):
        return {"type": "number"}
    if isinstance(example, list):
        return {"type": "array", "items": _schema_of(example[0]) if example else {}}
    if isinstance(example, dict):
        properties = {key: _schema_of(item) for key, item in example.items()}
        return {"type": "object", "properties": properties, "required": list(properties)}
    return {"type": "string"}


def _listed_keys(texts: Sequence[str]) -> list[str]:
    for text in texts:
        quoted = _QUOTED_KEY.findall(text)
        if quoted:
            return list(dict.fromkeys(quoted))
        for pattern in (_KEYS_LISTED, _ASKED_FOR):
            if match := pattern.search(text):
                words = re.findall(r"[A-Za-z_]\w*", match.group(1))
                keys = [word for word in words if word.lower() not in ("and", "with", "the")]
                if keys:
                    return list(dict.fromkeys(keys))
    return []


def _key_schema(key: str) -> dict[str, Any]:
    """A plural key ("ingredients") holds a list of strings; any other a string."""
    if key.endswith("s") and not key.endswith("ss") and len(key) > 3:
        return {"type": "array", "items": {"type": "string"}}
    return {}


def _object(user_text: str, reply: str, context: Sequence[str]) -> dict[str, Any]:
    texts = [user_text, *context]
    example = _example(texts)
    keys = _listed_keys(texts)
    schema: dict[str, Any] | None = None
    if example is not None:
        schema = _schema_of(example)
    elif keys:
        properties = {key: _key_schema(key) for key in keys}
        schema = {"type": "object", "properties": properties, "required": keys}
    if schema is None:
        return {"answer": reply}
    ctx = fill.Context(facts=facts.read(user_text), root=schema, reply=reply)
    found = fill.value(schema, "", ctx, required=True)
    return found if isinstance(found, dict) else {"answer": reply}

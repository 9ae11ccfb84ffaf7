"""A JSON value for a JSON schema, drawn from the user's message where the message fits.

`value(schema, name, ctx, required=...)` returns MISSING when the schema is optional and the
message says nothing for it, so optional parameters are left out; a required one always gets a
value that validates: types, enums, const, formats, min/max, lengths, patterns, nested objects
and arrays, `$ref`/`$defs`, `anyOf`/`oneOf`/`allOf` and nullable types.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from services.mistral_sim import patterns, strings
from services.mistral_sim.facts import Facts, Number, fold
from services.mistral_sim.hints import Hint, hint_of, related, split_name


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
_NEGATIONS = frozenset(["no", "not", "without", "dont", "don't", "never", "exclude", "disable"])
_MAX_DEPTH = 8
_SYMBOLS = {"°f": "fahrenheit", "°c": "celsius", "f": "fahrenheit", "c": "celsius"}


@dataclass
class Context:
    facts: Facts
    root: dict[str, Any]  # for `$ref`
    reply: str | None = None  # structured output: what the model would have said
    skip: frozenset[str] = frozenset()  # the tool's own name words, left out of free text
    used_numbers: set[int] = field(default_factory=set)
    used_strings: set[str] = field(default_factory=set)
    # The object being filled has one number parameter: any number in the message is its.
    sole_number: bool = False
    depth: int = 0  # nesting, so a recursive schema (a tree of nodes) ends


def resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    """The schema with `$ref` followed and `allOf` merged (enough for generated schemas)."""
    if not isinstance(schema, dict):
        return {}
    seen = 0
    while "$ref" in schema and seen < 32:
        node: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) and part else node
        schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **(node or {})}
        seen += 1
    if isinstance(schema.get("allOf"), list):
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            for key, item in resolve(part, root).items():
                if key in ("properties",) and key in merged:
                    merged[key] = {**merged[key], **item}
                elif key == "required" and key in merged:
                    merged[key] = [*merged[key], *item]
                else:
                    merged.setdefault(key, item)
        schema = merged
    return dict(schema)


def value(schema: Any, name: str, ctx: Context, *, required: bool) -> Any:
    if ctx.depth > 3 * _MAX_DEPTH:  # a schema no finite value satisfies: stop, never crash
        return None if required else MISSING
    ctx.depth += 1
    try:
        return _value(resolve(schema, ctx.root), name, ctx, required)
    finally:
        ctx.depth -= 1


def _value(schema: dict[str, Any], name: str, ctx: Context, required: bool) -> Any:
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return _choice(schema, schema[key], name, ctx, required)
    kind = schema.get("type")
    if isinstance(kind, list):
        options = [{**schema, "type": k} for k in kind if k != "null"]
        nullable = [{"type": "null"}] if "null" in kind else []
        return _choice(schema, options + nullable, name, ctx, required) if options else None
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _enum(schema, name, ctx, required)
    kind = kind or ("object" if "properties" in schema else "array" if "items" in schema else "")
    fill = _FILLERS.get(str(kind or "string"))
    if kind == "null":
        return None if required else MISSING
    return fill(schema, name, ctx, required) if fill else (schema.get("default", "") or "")


def _choice(
    schema: dict[str, Any], options: list[Any], name: str, ctx: Context, required: bool
) -> Any:
    """A branch the message fits; else null when allowed; else the first branch filled."""
    base = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf", "type")}
    branches = [{**base, **resolve(option, ctx.root)} for option in options]
    real = [b for b in branches if b.get("type") != "null"]
    for branch in real:
        found = value(branch, name, ctx, required=False)
        if found is not MISSING:
            return found
    if len(real) < len(branches):
        return None if required else MISSING
    return value(real[0], name, ctx, required=True) if required and real else MISSING


def _enum(schema: dict[str, Any], name: str, ctx: Context, required: bool) -> Any:
    """The enum value whose words the message uses most (first on ties)."""
    words = [_SYMBOLS.get(word, word) for word in re.findall(r"[\w°]+", fold(ctx.facts.text))]
    text = " " + " ".join(words) + " "
    best, best_score = None, 0
    for option in schema["enum"]:
        option_words = split_name(str(option)) if option is not None else []
        phrase = " ".join(option_words)
        score = 3 * len(option_words) if phrase and f" {phrase} " in text else 0
        score += sum(
            1 for word in option_words if related(word, frozenset(words)) and len(word) > 2
        )
        if score > best_score:
            best, best_score = option, score
    if best_score:
        return best
    if not required:
        return MISSING
    return schema["default"] if schema.get("default") in schema["enum"] else schema["enum"][0]


def _string(schema: dict[str, Any], name: str, ctx: Context, required: bool) -> Any:
    hint = hint_of(name, schema)
    fmt = str(schema.get("format") or "")
    found = strings.by_format(fmt, ctx.facts, required, ctx.used_strings) if fmt else None
    if found is None and not fmt:
        found = strings.by_kind(hint, ctx.facts, ctx.used_strings, ctx.reply)
    if found is None:
        if not required:
            return MISSING
        found = strings.fallback(hint, ctx.facts, schema, ctx.skip)
    ctx.used_strings.add(found)
    return _fit_string(found, schema)


def _fit_string(text: str, schema: dict[str, Any]) -> str:
    """Cut or pad to the length limits; replace with an example when a pattern refuses it."""
    if isinstance(schema.get("maxLength"), int):
        text = text[: schema["maxLength"]]
    if isinstance(schema.get("minLength"), int) and len(text) < schema["minLength"]:
        text = text + "x" * (schema["minLength"] - len(text))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matches = re.search(pattern, text) is not None
        except re.error:
            matches = True
        if not matches:
            text = patterns.example(pattern) or text
    return text


def _number_score(number: Number, hint: Hint) -> int:
    around = [*number.before[-2:], *number.after]
    return sum(2 if word in number.after[:1] else 1 for word in around if related(word, hint.words))


def _number(schema: dict[str, Any], name: str, ctx: Context, required: bool) -> Any:
    hint = hint_of(name, schema)
    free = [(i, n) for i, n in enumerate(ctx.facts.numbers) if i not in ctx.used_numbers]
    scored = sorted(free, key=lambda item: -_number_score(item[1], hint))
    chosen = scored[0] if scored and _number_score(scored[0][1], hint) > 0 else None
    if chosen is None and (required or ctx.sole_number) and free:
        chosen = free[0]
    if chosen is not None:
        ctx.used_numbers.add(chosen[0])
        found: float = chosen[1].value
    elif not required:
        return MISSING
    elif isinstance(schema.get("default"), int | float):
        found = float(schema["default"])
    else:
        found = 0.0
    return _fit_number(found, schema)


def _fit_number(number: float, schema: dict[str, Any]) -> int | float:
    integer = schema.get("type") == "integer"
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    step = 1 if integer else 1e-6
    if isinstance(schema.get("exclusiveMinimum"), int | float) and "minimum" not in schema:
        low = schema["exclusiveMinimum"] + step
    if isinstance(schema.get("exclusiveMaximum"), int | float) and "maximum" not in schema:
        high = schema["exclusiveMaximum"] - step
    if isinstance(low, int | float):
        number = max(number, low)
    if isinstance(high, int | float):
        number = min(number, high)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int | float) and multiple > 0:
        number = math.ceil(number / multiple - 1e-9) * multiple
        if isinstance(high, int | float) and number > high:
            number -= multiple
    if integer:
        whole = round(number)
        if isinstance(low, int | float) and whole < low:
            whole = math.ceil(low)
        if isinstance(high, int | float) and whole > high:
            whole = math.floor(high)
        return whole
    return int(number) if number == int(number) and abs(number) < 1e15 else number


def _boolean(schema: dict[str, Any], name: str, ctx: Context, required: bool) -> Any:
    """True when the message uses the parameter's words, False when it negates them."""
    hint = hint_of(name, {})  # the name only: descriptions say "whether to ..." of everything
    generic = {"is", "include", "enable", "use", "show", "with", "has", "should", "allow", "do"}
    words = list(ctx.facts.words)
    for index, word in enumerate(words):
        if word not in generic and related(word, hint.words - generic):
            return not any(w in _NEGATIONS for w in words[max(0, index - 3) : index])
    if not required:
        return MISSING
    default = schema.get("default")
    return default if isinstance(default, bool) else False


def _array(schema: dict[str, Any], name: str, ctx: Context, required: bool) -> Any:
    if ctx.depth > _MAX_DEPTH:
        return [] if required else MISSING
    items = resolve(schema.get("items") or {}, ctx.root)
    found: list[Any] = []
    limit: int = schema["maxItems"] if isinstance(schema.get("maxItems"), int) else 8
    kind = items.get("type")
    if isinstance(items.get("enum"), list) or kind in ("object", "array", "boolean"):
        first = value(items, name, ctx, required=False)
        found = [] if first is MISSING else [first]
    else:
        while len(found) < limit:
            item = value(items, _singular(name), ctx, required=False)
            if item is MISSING or item in found:
                break
            found.append(item)
    if not found and not required:
        return MISSING
    low: int = schema["minItems"] if isinstance(schema.get("minItems"), int) else 0
    while len(found) < max(low, 1):  # a required list the message says nothing for: one item
        found.append(value(items, _singular(name), ctx, required=True))
    return found[:limit]


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _object(schema: dict[str, Any], name: str, ctx: Context, required: bool) -> Any:
    properties = schema.get("properties") or {}
    needed = set(schema.get("required") or [])
    out: dict[str, Any] = {}
    numeric = [k for k, sub in properties.items() if _is_numeric(resolve(sub, ctx.root))]
    outer, ctx.sole_number = ctx.sole_number, len(numeric) == 1
    for key, sub in properties.items():
        item = value(sub, key, ctx, required=key in needed)
        if item is not MISSING:
            out[key] = item
    ctx.sole_number = outer
    if not out and not required and properties:
        return MISSING
    return out


def _is_numeric(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return "integer" in kinds or "number" in kinds


_FILLERS = {
    "string": _string,
    "integer": _number,
    "number": _number,
    "boolean": _boolean,
    "array": _array,
    "object": _object,
}

"""The words the simulated model says: plain answers, answers from tool results, web results."""

from __future__ import annotations

import ast
import json
import operator
import re
from typing import Any

from services.mistral_sim import failures
from services.mistral_sim.persona import Persona

_ARITHMETIC = re.compile(r"(-?\d+(?:\.\d+)?)\s*([-+*/x\u00d7])\s*(-?\d+(?:\.\d+)?)")
_OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "x": operator.mul,
    "\u00d7": operator.mul,
    "/": operator.truediv,
}
_GREETING = re.compile(r"^\s*(hi|hello|hey|bonjour|good (morning|afternoon|evening))\b", re.I)
_THANKS = re.compile(r"^\s*(thanks|thank you|thx|merci|cheers)\b", re.I)
_BYE = re.compile(r"^\s*(bye|goodbye|see you)\b", re.I)
# A whole message of small talk: no agent would call a tool or hand off for it.
_SMALL_TALK = re.compile(
    r"^\s*(hi|hello|hey|bonjour|good (morning|afternoon|evening)|thanks|thank you|thx|merci|"
    r"cheers|ok|okay|great|bye|goodbye|see you)( (there|so much|a lot|again|later))?[\s!.?]*$",
    re.I,
)


def is_small_talk(text: str) -> bool:
    return bool(_SMALL_TALK.match(text))


# Openers by a fragment of the tool's name, so NutriSense answers read naturally.
_LEADS = {
    "goal": "Your goals are set.",
    "log": "Logged.",
    "recommend": "Here are some ideas.",
    "progress": "Here is your progress so far.",
}


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def plain_reply(persona: Persona, text: str) -> str:
    """A sensible deterministic answer from an agent with nothing to call."""
    if match := _ARITHMETIC.search(text):
        left, op, right = match.groups()
        if not (op == "/" and float(right) == 0):
            value = _OPERATORS[op](float(left), float(right))
            if "just the number" in text.lower():
                return _number(value)
            return f"{left} {op} {right} = {_number(value)}."
    if _GREETING.match(text):
        return f"Hello! I am {persona.name}. How can I help you today?"
    if _THANKS.match(text):
        return "You're welcome! Anything else I can help with?"
    if _BYE.match(text):
        return "Goodbye!"
    if not text.strip():
        return "Is there anything else I can help you with?"
    topic = text.strip().rstrip("?.! ")
    if len(topic) > 120:
        topic = topic[:117] + "..."
    return f'I am {persona.name}. You asked: "{topic}". Noted, and happy to help with that.'


def out_of_scope(persona: Persona, text: str) -> str:
    """What an agent says to a request its tools cannot serve."""
    tools = ", ".join(str(f.get("name")) for f in persona.function_tools) or "my tools"
    topic = text.strip().rstrip("?.! ")
    if len(topic) > 80:
        topic = topic[:77] + "..."
    return (
        f'I am {persona.name} and cannot help with "{topic}" here: I can only use {tools}. '
        "Could you ask for that in a new conversation, or rephrase it?"
    )


def unwrap(value: Any) -> Any:
    """Decode JSON strings and MCP `[{"type": "text", "text": ...}]` lists (RunContext's format)."""
    if isinstance(value, str):
        try:
            return unwrap(json.loads(value))
        except ValueError:
            try:
                return unwrap(ast.literal_eval(value)) if value[:1] in "[{" else value
            except (ValueError, SyntaxError):
                return value
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, dict) and item.get("type") == "text" for item in value)
    ):
        return unwrap("\n".join(str(item.get("text", "")) for item in value))
    return value


def render(value: Any, depth: int = 0) -> str:
    if isinstance(value, dict):
        for key in ("message", "summary", "text", "reply", "answer"):
            if isinstance(value.get(key), str) and value[key].strip():
                return str(value[key]).strip()
        items = list(value.items())[:8]
        return "; ".join(f"{key}: {render(item, depth + 1)}" for key, item in items)
    if isinstance(value, list):
        shown = [render(item, depth + 1) for item in value[:6]]
        more = f" (and {len(value) - 6} more)" if len(value) > 6 else ""
        return ", ".join(shown) + more
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).strip()


def result_reply(results: list[tuple[str, str]]) -> str:
    """Words built from function results: `(tool name, result string)` pairs, in call order.
    A result that reports an error is answered as a failure, with its reason."""
    parts = []
    for name, result in results:
        reason = failures.tool_error(result)
        if reason is not None:
            parts.append(failures.failure_reply(name, reason))
            continue
        lead = next((text for key, text in _LEADS.items() if key in name), "Here is the result.")
        body = render(unwrap(result)) or "(no details)"
        parts.append(f"{lead} {body}")
    return "\n".join(parts)


def web_results(query: str) -> list[dict[str, str]]:
    """Canned search results that quote the query, so replies stay deterministic."""
    topic = query.strip().rstrip("?.! ") or "your question"
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")[:48] or "search"
    return [
        {
            "title": f"Top picks: {topic[:60]}",
            "url": f"https://www.example.com/guides/{slug}",
            "description": f"A curated guide answering: {topic[:80]}.",
            "source": "brave",
        },
        {
            "title": f"Reviews and ratings for {topic[:50]}",
            "url": f"https://reviews.example.org/{slug}",
            "description": "Recent reviews with opening hours and prices.",
            "source": "brave",
        },
    ]


def web_reply_chunks(query: str, results: list[dict[str, str]]) -> list[dict[str, Any]]:
    """A message that mixes text with `tool_reference` citations, as the real API does."""
    chunks: list[dict[str, Any]] = [
        {"type": "text", "text": f'I searched the web for "{query.strip()}". The best sources: '}
    ]
    for index, result in enumerate(results):
        chunks.append({"type": "text", "text": f"{result['title']}"})
        chunks.append(
            {
                "type": "tool_reference",
                "tool": "web_search",
                "title": result["title"],
                "url": result["url"],
                "description": result["description"],
                "source": result["source"],
            }
        )
        chunks.append({"type": "text", "text": "; " if index < len(results) - 1 else "."})
    return chunks

"""Deterministic agent behaviour: what a turn outputs, given who is active and what came in.

- A user message goes to the best agent reachable through handoffs (`routing`), which then
  calls its best-matching function tool with arguments filled from the tool's JSON schema and
  the input (`arguments`), or runs web search and cites the canned results, or answers in
  plain words.
- `function.result` inputs are answered by the agent that made the calls, from the results.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from services.mistral_sim import replies, routing, structured
from services.mistral_sim.arguments import arguments_for
from services.mistral_sim.persona import Persona


@dataclass(frozen=True)
class Handoff:
    previous: Persona
    next: Persona


@dataclass(frozen=True)
class FunctionCall:
    persona: Persona
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolExecution:
    persona: Persona
    name: str
    arguments: str
    info: dict[str, Any]


@dataclass(frozen=True)
class Message:
    persona: Persona
    content: str | list[dict[str, Any]]


Output = Handoff | FunctionCall | ToolExecution | Message


@dataclass(frozen=True)
class Turn:
    active: Persona
    lookup: Callable[[str], Persona | None]
    history: Sequence[dict[str, Any]]
    inputs: Sequence[dict[str, Any]]
    # handoff_execution="client": stop at the handoff and let the client continue.
    client_handoffs: bool = False
    # The request's own completion args (append/restart), before the agent's.
    completion_args: dict[str, Any] | None = None


def text_of(content: Any) -> str:
    """The plain text of an entry's content: a string, or the text chunks of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(chunk.get("text", "")) for chunk in content if isinstance(chunk, dict))
    return ""


def _last_user_text(entries: Sequence[dict[str, Any]]) -> str | None:
    for entry in reversed(entries):
        if entry.get("type") == "message.input" and entry.get("role") == "user":
            return text_of(entry.get("content"))
    return None


def _trailing_results(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for entry in reversed(entries):
        if entry.get("type") != "function.result":
            break
        results.insert(0, entry)
    return results


def plan_turn(turn: Turn) -> list[Output]:
    """The turn's outputs; messages in JSON when a `response_format` asks for it."""
    outputs = _plan(turn)
    user_text = _last_user_text([*turn.history, *turn.inputs]) or ""
    return [_formatted(output, turn, user_text) for output in outputs]


def _formatted(output: Output, turn: Turn, user_text: str) -> Output:
    if not isinstance(output, Message):
        return output
    fmt = structured.response_format(turn.completion_args, output.persona.completion_args)
    if fmt is None:
        return output
    content = structured.render(
        fmt, user_text, text_of(output.content), [output.persona.instructions]
    )
    return Message(output.persona, content)


def _plan(turn: Turn) -> list[Output]:
    results = [entry for entry in turn.inputs if entry.get("type") == "function.result"]
    last = turn.inputs[-1] if turn.inputs else {}
    asked = last.get("type") == "message.input" and last.get("role") == "user"
    # Results followed by new words from the user: the results are context; answer the words.
    if results and not asked:
        return [_answer_results(turn.active, turn.history, results)]
    text = _last_user_text(turn.inputs)
    if text is None and turn.history:
        # No new user words (an empty append, or a restart from an entry): carry on from there.
        tail = turn.history[-1]
        if tail.get("type") == "message.input" and tail.get("role") == "user":
            text = text_of(tail.get("content"))
        elif trailing := _trailing_results(turn.history):
            return [_answer_results(turn.active, turn.history, trailing)]
    if text is None:
        return [Message(turn.active, replies.plain_reply(turn.active, ""))]
    return respond(turn.active, text, turn.lookup, client_handoffs=turn.client_handoffs)


def respond(
    active: Persona,
    text: str,
    lookup: Callable[[str], Persona | None],
    *,
    client_handoffs: bool = False,
) -> list[Output]:
    if replies.is_small_talk(text):
        return [Message(active, replies.plain_reply(active, text))]
    if routing.meant_for_another(active, text, lookup):
        # No handoff reaches the kind of agent asked for: say so, call nothing.
        return [Message(active, replies.out_of_scope(active, text))]
    outputs: list[Output] = []
    current = active
    path = routing.handoff_path(active, text, lookup)
    for target in path:
        outputs.append(Handoff(current, target))
        current = target
    if path and client_handoffs:
        return outputs
    outputs.extend(act(current, text))
    return outputs


def act(persona: Persona, text: str) -> list[Output]:
    functions = persona.function_tools
    if functions:
        return [
            FunctionCall(
                persona,
                str(function["name"]),
                json.dumps(arguments_for(function, text), ensure_ascii=False),
            )
            for function in pick_functions(functions, text)
        ]
    if persona.web_search_tool:
        results = replies.web_results(text)
        return [
            ToolExecution(
                persona,
                "web_search",
                json.dumps({"query": text}, ensure_ascii=False),
                {"query": text, "results": results},
            ),
            Message(persona, replies.web_reply_chunks(text, results)),
        ]
    return [Message(persona, replies.plain_reply(persona, text))]


def _overlap(function: dict[str, Any], query: set[str]) -> int:
    own = routing.words(
        f"{function.get('name', '')} {function.get('description') or ''}".replace("_", " ")
    )
    return len(query.intersection(own))


def pick_function(functions: Sequence[dict[str, Any]], text: str) -> dict[str, Any]:
    """The function whose name and description share most words with the input; first on ties."""
    query = set(routing.words(text))
    return max(functions, key=lambda function: _overlap(function, query))


_CLAUSES = re.compile(r"\s+(?:and then|and also|and|then|also)\s+|[;,.!?]\s*", re.I)


def pick_functions(functions: Sequence[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """One function, or several (parallel calls) when clauses of the input ask for different
    tools, e.g. "log 2 eggs and show my progress" to an agent holding both tools."""
    chosen: list[dict[str, Any]] = []
    if len(functions) > 1:
        for clause in _CLAUSES.split(text):
            query = set(routing.words(clause))
            best = max(functions, key=lambda function: _overlap(function, query))
            if _overlap(best, query) > 0 and best not in chosen:
                chosen.append(best)
    return chosen if len(chosen) > 1 else [pick_function(functions, text)]


def _answer_results(
    persona: Persona, history: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]]
) -> Message:
    names = {
        entry.get("tool_call_id"): str(entry.get("name", "tool"))
        for entry in history
        if entry.get("type") == "function.call"
    }
    pairs = [
        (names.get(entry.get("tool_call_id"), "tool"), str(entry.get("result", "")))
        for entry in results
    ]
    return Message(persona, replies.result_reply(pairs))

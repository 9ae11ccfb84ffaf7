"""Deterministic routing: which agent's name, description and tools best match the input.

A word scores when it matches the agent's own words (name, description, tool names and
descriptions); NutriSense's specialists also get cue words, chosen for the cookbook's sample
queries, looked up by a fragment of the agent's *name* (a router's description mentions every
specialist, so descriptions must not pull cues in).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable

from services.mistral_sim.persona import Persona

_WORD = re.compile(r"[a-z0-9]+")

_STOPWORD_TEXT = """
    a an and are as at be based by can do for from get give has have how i in is it me my of
    on or our please provide some that the this to up us user users was we what when which who
    why will with you your agent agents based query queries info information tool tools"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# name fragment -> cue words (exact stems) and phrases (substrings), with weights.
CUES: dict[str, dict[str, int]] = {
    "goal": {
        "goal": 3,
        "target": 2,
        "set": 1,
        "update": 1,
        "calorie": 1,
        "protein": 1,
        "carb": 1,
        "fat": 1,
        "fibre": 1,
        "fiber": 1,
        "daily target": 2,
    },
    "log": {
        "log": 3,
        "ate": 3,
        "eat": 2,
        "eaten": 3,
        "had": 2,
        "drank": 3,
        "drink": 1,
        "breakfast": 1,
        "lunch": 1,
        "snack": 1,
        "record": 2,
        "track": 1,
    },
    "recommend": {
        "recommend": 3,
        "suggest": 3,
        "suggestion": 3,
        "dinner": 2,
        "idea": 2,
        "meal": 1,
        "what should i eat": 4,
        "what can i eat": 4,
    },
    "progress": {
        "progress": 3,
        "so far": 3,
        "today": 1,
        "total": 2,
        "remaining": 2,
        "left": 1,
        "analysis": 1,
        "summary": 2,
        "how am i doing": 4,
        "how much": 1,
    },
    "search": {
        "restaurant": 5,
        "web": 3,
        "search": 3,
        "near": 3,
        "nearby": 3,
        "online": 2,
        "internet": 2,
        "where": 1,
        "open": 1,
        "latest": 2,
        "news": 2,
        "shop": 1,
        "store": 1,
    },
}


def stem(word: str) -> str:
    """A crude suffix stripper: enough that `recommendations` meets `recommend`."""
    for suffix in ("ations", "ation", "ings", "ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            return base + "y" if suffix == "ies" else base
    return word


def words(text: str) -> list[str]:
    return [stem(word) for word in _WORD.findall(text.lower()) if word not in STOPWORDS]


def _agent_words(persona: Persona) -> set[str]:
    texts = [persona.name, persona.description]
    for function in persona.function_tools:
        texts.append(str(function.get("name", "")).replace("_", " "))
        texts.append(str(function.get("description") or ""))
    if persona.web_search_tool:
        texts.append("web search")
    return {word for text in texts for word in words(text.replace("-", " "))}


def _related(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return len(short) >= 4 and long.startswith(short)


def score(persona: Persona, text: str) -> int:
    """How well `text` fits this agent; 0 means no sign at all."""
    query_set = {word for word in words(text) if len(word) > 1}  # not the "g" of "150 g"
    own = _agent_words(persona)
    total = sum(1 for word in query_set if any(_related(word, mine) for mine in own))
    lowered = " ".join(_WORD.findall(text.lower()))
    name = persona.name.lower()
    for fragment, cues in CUES.items():
        if fragment not in name:
            continue
        for cue, weight in cues.items():
            if " " in cue:
                total += weight if f" {cue} " in f" {lowered} " else 0
            elif stem(cue) in query_set:
                total += weight
    return total


def handoff_path(
    active: Persona,
    text: str,
    lookup: Callable[[str], Persona | None],
    max_hops: int = 3,
) -> list[Persona]:
    """The chain of handoffs (possibly empty) that reaches the best agent for `text`.

    Candidates are the agents reachable through declared handoffs. The active agent keeps the
    input when it has tools and fits at least as well; an agent without tools (a router) always
    passes an input on when some target fits at all.
    """
    best: list[Persona] = []
    best_score = score(active, text) if active.has_tools else 0
    for path in _reachable(active, lookup, max_hops):
        candidate = score(path[-1], text)
        if candidate > best_score:
            best, best_score = path, candidate
    return best


def _reachable(
    start: Persona, lookup: Callable[[str], Persona | None], max_hops: int
) -> Iterable[list[Persona]]:
    """Shortest handoff paths from `start`, breadth first, in declaration order."""
    seen = {start.id}
    queue: deque[list[Persona]] = deque([[start]])
    while queue:
        path = queue.popleft()
        if len(path) > max_hops:
            continue
        for target_id in path[-1].handoffs:
            if target_id in seen:
                continue
            seen.add(target_id)
            target = lookup(target_id)
            if target is None:
                continue
            yield [*path[1:], target]
            queue.append([*path, target])


def intent(text: str) -> str | None:
    """The kind of agent (a CUES name fragment) the input clearly asks for, if one does."""
    query = set(words(text))
    lowered = f" {' '.join(_WORD.findall(text.lower()))} "
    totals = {
        fragment: sum(
            weight
            for cue, weight in cues.items()
            if (f" {cue} " in lowered if " " in cue else stem(cue) in query)
        )
        for fragment, cues in CUES.items()
    }
    best = max(totals, key=lambda fragment: totals[fragment])
    tied = [fragment for fragment, total in totals.items() if total == totals[best]]
    return best if totals[best] >= 3 and len(tied) == 1 else None


def meant_for_another(
    active: Persona, text: str, lookup: Callable[[str], Persona | None], max_hops: int = 3
) -> bool:
    """A specialist (an agent with function tools, named like NutriSense's) asked for what only
    a kind of agent it cannot reach does ("set my goal" to a food logger with no handoff to the
    goal setter): a model says it cannot do that here rather than call an unrelated tool or
    hand off to an agent that merely mentions goals."""
    wanted = intent(text)
    name = active.name.lower()
    if not active.function_tools or wanted is None or wanted in name:
        return False
    if not any(fragment in name for fragment in CUES):
        return False  # not a specialist of a cue-named team: routing by words alone
    reachable = (path[-1].name.lower() for path in _reachable(active, lookup, max_hops))
    return not any(wanted in other for other in reachable)

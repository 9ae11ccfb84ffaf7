"""Food items in free text: "2 eggs, 1 slice of whole wheat bread and a cup of black coffee".

Food names are found first (longest match against every name, synonym and plural in the table),
then each name's amount is read from the words just before it ("half a cup of") or, failing
that, just after it ("rice 200g"). Text that names no known food is reported as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.mcp_server.nutrition import Food, FoodTable
from services.mcp_server.parsing.meals import find_meal_markers, meal_for
from services.mcp_server.parsing.quantities import Amount, read_amount, unit_of
from services.mcp_server.parsing.text import SEPARATORS, tokenize

# Words that carry no food: left over after the foods are taken, they are not "unknown foods".
_FILLER_TEXT = """
i i'm im i've ive i'd had have has ate eaten eat eating drank drink drinking just also log
logged add record track please the food foods my me for at this morning today tonight
evening afternoon noon yesterday breakfast brunch lunch dinner supper snack snacks meal
meals some of a an was were it that in on as to so far about around roughly approx
approximately and with plus then or big small medium large little bit cooked fresh
homemade more another second extra
"""
FILLER = frozenset(_FILLER_TEXT.split())
# How a food was made or served: words after its name that do not make it another food.
_DESCRIPTOR_TEXT = """
scrambled fried boiled grilled baked roasted steamed raw plain sliced chopped whole toasted
mashed poached hard soft organic cold hot iced warm black white red green sweet unsweetened
skinless boneless lean light low sugar free full sugarfree regular style only please
"""
DESCRIPTORS = frozenset(_DESCRIPTOR_TEXT.split())
# Words after a food that start a phrase about something else ("coffee at the office").
_TAIL_STOPS = frozenset({"at", "from", "in", "on", "by", "near", "for", "as", "this", "today"})


@dataclass(frozen=True, slots=True)
class FoodItem:
    """One food the user ate: what the table calls it, how much, and the words it came from."""

    food: Food
    quantity: float
    unit: str  # a unit the table knows ("g", "cup", "slice"...)
    text: str  # the user's words for this item ("half a cup of rice")
    meal: str | None


@dataclass(frozen=True, slots=True)
class ParsedMeal:
    items: list[FoodItem]
    unknown: list[str]  # phrases that name no food in the table


@dataclass(frozen=True, slots=True)
class _Mention:
    food: Food
    start: int
    end: int


def _find_mentions(tokens: list[str], table: FoodTable) -> list[_Mention]:
    mentions, i = [], 0
    while i < len(tokens):
        for length in range(min(table.max_name_words, len(tokens) - i), 0, -1):
            food = table.lookup_tokens(tokens[i : i + length])
            if food is not None and not (length == 1 and unit_of(tokens[i])):
                mentions.append(_Mention(food, i, i + length))
                i += length
                break
        else:
            i += 1
    return mentions


def _clause_start(tokens: list[str], lower: int, position: int) -> int:
    """The first token after the last separator in tokens[lower:position]."""
    for i in range(position - 1, lower - 1, -1):
        if tokens[i] in SEPARATORS and tokens[i : i + 3] not in (
            ["and", "a", "half"],
            ["and", "a", "quarter"],
        ):
            return i + 1
    return lower


def _amount_in(tokens: list[str], start: int, end: int) -> tuple[float | None, str | None, int]:
    """(quantity, unit, first token used) of the amount written in tokens[start:end]."""
    unit_at = next((i for i in range(end - 1, start - 1, -1) if unit_of(tokens[i])), None)
    amounts: list[Amount] = []
    i = start
    while i < (unit_at if unit_at is not None else end):
        amount = read_amount(tokens, i)
        if amount is not None and amount.end <= end:
            # "three quarters of a cup": the article after "of" is not a second amount.
            if not (amounts and tokens[i] in ("a", "an") and tokens[i - 1] == "of"):
                amounts.append(amount)
            i = amount.end
        else:
            i += 1
    unit = unit_of(tokens[unit_at]) if unit_at is not None else None
    if not amounts:
        return (1.0 if unit else None), unit, unit_at if unit_at is not None else end
    return amounts[-1].value, unit, amounts[-1].start


def _words(tokens: list[str]) -> str:
    return " ".join(t for t in tokens if t.isalnum() or t.isalpha() or read_amount([t], 0)).strip()


def _next_stop(tokens: list[str], start: int, end: int, stops: frozenset[str]) -> int:
    return next((j for j in range(start, end) if tokens[j] in stops), end)


def _read_item(
    tokens: list[str], mentions: list[_Mention], index: int, used: set[int]
) -> tuple[float, str | None, int, int] | None:
    """(quantity, unit, first token, last token + 1) of mention `index`, or None when words
    after the name make it another food ("egg sandwich" is not an egg)."""
    mention = mentions[index]
    previous_end = mentions[index - 1].end if index else 0
    following = mentions[index + 1].start if index + 1 < len(mentions) else len(tokens)
    clause = _clause_start(tokens, previous_end, mention.start)
    quantity, unit, first = _amount_in(tokens, clause, mention.start)
    used.update(range(clause, mention.start))
    end = mention.end
    if quantity is None:  # "rice 200g": the amount follows the name
        stop = _next_stop(tokens, mention.end, following, SEPARATORS - {"(", ")"})
        quantity, unit, _ = _amount_in(tokens, mention.end, stop)
        if quantity is not None:
            used.update(range(mention.end, stop))
            end = stop
    tail_stop = _next_stop(tokens, end, following, SEPARATORS | _TAIL_STOPS)
    tail = range(end, tail_stop)
    used.update(tail)
    if any(_is_content_word(tokens[j]) for j in tail):
        return None
    return (1.0 if quantity is None else quantity), unit, min(first, mention.start), end


def parse_food_items(text: str, table: FoodTable) -> ParsedMeal:
    """Every food item in `text` with its amount and meal, plus the phrases naming no known food."""
    tokens = tokenize(text)
    mentions = _find_mentions(tokens, table)
    taken = {i for m in mentions for i in range(m.start, m.end)}
    markers = find_meal_markers(tokens, taken)
    used: set[int] = set(taken)
    items: list[FoodItem] = []
    unread: list[str] = []
    for index, mention in enumerate(mentions):
        read = _read_item(tokens, mentions, index, used)
        if read is None:
            following = mentions[index + 1].start if index + 1 < len(mentions) else len(tokens)
            stop = _next_stop(tokens, mention.end, following, SEPARATORS | _TAIL_STOPS)
            unread.append(" ".join(tokens[mention.start : stop]))
            continue
        quantity, unit, first, end = read
        items.append(
            FoodItem(
                food=mention.food,
                quantity=quantity,
                unit=unit or mention.food.count_unit,
                text=_words(tokens[first:end]),
                meal=meal_for(mention.start, markers),
            )
        )
    return ParsedMeal(items=items, unknown=_unknown_phrases(tokens, used) + unread)


def _is_content_word(token: str) -> bool:
    if token in FILLER or token in DESCRIPTORS or unit_of(token) or read_amount([token], 0):
        return False
    return token.isalpha()


def _unknown_phrases(tokens: list[str], used: set[int]) -> list[str]:
    """Clauses with no food in them that still say something beyond filler and amounts."""
    phrases: list[str] = []
    clause: list[int] = []
    for i, token in enumerate([*tokens, ","]):
        if token not in SEPARATORS:
            clause.append(i)
            continue
        has_content = any(_is_content_word(tokens[p]) for p in clause)
        if clause and has_content and not used.intersection(clause):
            while tokens[clause[0]] in FILLER - {"a", "an"}:
                clause.pop(0)
            while tokens[clause[-1]] in FILLER:
                clause.pop()
            phrases.append(" ".join(tokens[p] for p in clause))
        clause = []
    return phrases

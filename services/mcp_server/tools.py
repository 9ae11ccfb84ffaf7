"""The four NutriSense tools, as the agents call them: one string `user_query` each.

The caller's identity never comes from the arguments: it is read from the request `_meta` or
headers (see identity.py). Anything the tool cannot do comes back as an `isError` result whose
text tells the model what to ask the user.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from sqlalchemy.exc import SQLAlchemyError

from services.mcp_server import metrics
from services.mcp_server.diary import DiaryInputError, NutritionDiary
from services.mcp_server.identity import (
    CallerIdentity,
    IdentityError,
    caller_identity,
    idempotency_key,
)
from services.mcp_server.results import (
    FoodLogResult,
    GoalSettingResult,
    ProgressResult,
    RecommendationResult,
    ToolResult,
)
from services.mcp_server.settings import McpServerSettings

logger = logging.getLogger(__name__)

# The parameter schema the agents are declared with (cookbook contract): nothing more.
USER_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"user_query": {"type": "string"}},
    "required": ["user_query"],
}

READS = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
ADDS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
REPLACES = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


def error_result(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def _meta(ctx: Context) -> dict[str, Any] | None:
    meta = ctx.request_context.meta
    return dict(meta) if meta else None


async def _run(
    ctx: Context,
    tool: str,
    operation: Callable[[CallerIdentity], Awaitable[ToolResult]],
    delay_s: float = 0.0,
) -> CallToolResult:
    """Identity, then the operation; expected failures become `isError` results. Counted by
    tool and outcome (services/mcp_server/metrics.py).

    `delay_s` (the `MCP_TOOL_DELAY_MS` test knob) holds the answer after the work is done: the
    slowest moment for a fault to land, since a retry then finds the write already made.
    """
    try:
        result = await operation(caller_identity(_meta(ctx), ctx.headers))
    except (IdentityError, DiaryInputError) as exc:
        metrics.tool_call(tool, "refused")
        return error_result(str(exc))
    except (SQLAlchemyError, OSError):
        logger.exception("diary store failed")
        metrics.tool_call(tool, "store_failed")
        return error_result("The food diary is unavailable right now; nothing was changed.")
    metrics.tool_call(tool, "ok")
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    return CallToolResult(
        content=[TextContent(type="text", text=result.text())],
        structured_content=result.model_dump(mode="json"),
    )


class NutriSenseTools:
    """The tools bound to one diary (store, food table, clock)."""

    def __init__(self, diary: NutritionDiary, delay_s: float | None = None) -> None:
        self.diary = diary
        if delay_s is None:
            delay_s = McpServerSettings().mcp_tool_delay_ms / 1000.0
        self.delay_s = delay_s

    async def goal_setting(
        self, user_query: str, ctx: Context
    ) -> Annotated[CallToolResult, GoalSettingResult]:
        """Set or update the user's daily nutrition goals from their own words.

        Understands calories (kcal), protein, carbs, fat and fibre with amounts, e.g.
        "2000 calories, 100g protein, 250 g carbs" or "raise my protein to 140 g". Only the
        goals named are changed; the others keep their values. Goals take effect from the
        user's current local day. Returns every goal after the update.
        """
        return await _run(
            ctx,
            "goal_setting",
            lambda caller: self.diary.set_goals(caller, user_query),
            self.delay_s,
        )

    async def food_log(
        self, user_query: str, ctx: Context
    ) -> Annotated[CallToolResult, FoodLogResult]:
        """Log what the user ate or drank today: one or more foods with amounts, in free text.

        Pass the user's words, e.g. "2 eggs, 1 slice of whole wheat bread and a cup of black
        coffee for breakfast" or "half a cup of rice and 150g grilled chicken for lunch".
        Amounts may be counts, grams, ml, cups, slices, tbsp, bowls...; the meal is taken from
        the text when named. Nutrients come from a nutrition table (values per 100 g), never
        guessed: foods the table does not know are listed as not logged (or, where enabled,
        logged as marked estimates). Returns each item logged, this log's totals and today's
        totals.
        """
        return await _run(
            ctx,
            "food_log",
            lambda caller: self.diary.log_food(
                caller, user_query, idempotency_key(_meta(ctx), ctx.headers)
            ),
            self.delay_s,
        )

    async def food_recommendations(
        self, user_query: str, ctx: Context
    ) -> Annotated[CallToolResult, RecommendationResult]:
        """Suggest a meal that fits what is left of the user's goals for today.

        Name the meal in the query ("ideas for dinner"); without one, the meal is chosen from
        the user's local time. Computes today's remaining calories and macros from the logged
        food, takes this meal's share of it, and returns a combined meal plan plus single-food
        alternatives with their amounts and nutrients. Read-only.
        """
        return await _run(
            ctx,
            "food_recommendations",
            lambda caller: self.diary.recommend(caller, user_query),
            self.delay_s,
        )

    async def daily_progress(
        self, user_query: str, ctx: Context
    ) -> Annotated[CallToolResult, ProgressResult]:
        """Report the user's nutrition for today (or "yesterday") against their goals.

        Totals of calories, protein, carbs, fat and fibre from every logged entry, the percent
        of each goal reached, what is still missing (negative when over), totals per meal and
        the entries themselves, all computed from the stored diary. Read-only.
        """
        return await _run(
            ctx,
            "daily_progress",
            lambda caller: self.diary.progress(caller, user_query),
            self.delay_s,
        )

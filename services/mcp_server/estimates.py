"""Opt-in fallback for foods the table does not know: a Mistral structured-output estimate.

Off unless `NUTRISENSE_ESTIMATE_UNKNOWN_FOODS=true` and a real `MISTRAL_API_KEY` are set. The
table always comes first; an estimate is used only when it is internally consistent (its energy
follows from its macros) and is marked `estimated` wherever it appears.
"""

from __future__ import annotations

import logging
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

logger = logging.getLogger(__name__)

_INSTRUCTIONS = (
    "You estimate nutrition facts for one food as eaten. Reply with JSON only: a short common "
    "name, the grams of the amount described (use a typical portion when no amount is given) "
    "and values per 100 g from standard food composition tables."
)


class FoodEstimate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # strict JSON-schema mode wants a closed object

    name: str = Field(min_length=1, max_length=60)
    grams: float = Field(gt=0, le=2000)
    calories_kcal_per_100g: float = Field(ge=0, le=900)
    protein_g_per_100g: float = Field(ge=0, le=100)
    carbs_g_per_100g: float = Field(ge=0, le=100)
    fat_g_per_100g: float = Field(ge=0, le=100)
    fibre_g_per_100g: float = Field(ge=0, le=100)

    def is_consistent(self) -> bool:
        """Energy within 30 % (or 40 kcal) of 4 x protein + 4 x carbs + 9 x fat."""
        atwater = 4 * self.protein_g_per_100g + 4 * self.carbs_g_per_100g + 9 * self.fat_g_per_100g
        mass = self.protein_g_per_100g + self.carbs_g_per_100g + self.fat_g_per_100g
        return mass <= 100 and abs(atwater - self.calories_kcal_per_100g) <= max(
            40, 0.3 * self.calories_kcal_per_100g
        )


class FoodEstimator(Protocol):
    async def estimate(self, phrase: str) -> FoodEstimate | None:
        """An estimate for `phrase` ("a slice of quiche lorraine"), or None."""
        ...


class MistralFoodEstimator:
    """Estimates through Mistral chat completions in JSON-schema mode."""

    def __init__(
        self, api_key: str, *, model: str, server_url: str | None = None, timeout_s: float = 15
    ) -> None:
        from mistralai.client import Mistral  # imported only when the fallback is on (slow)

        self.model = model
        self.client = Mistral(
            api_key=api_key, server_url=server_url, timeout_ms=int(timeout_s * 1000)
        )

    async def estimate(self, phrase: str) -> FoodEstimate | None:
        from mistralai.client.models import JSONSchema, ResponseFormat, SystemMessage, UserMessage

        schema = JSONSchema.model_validate(
            {"name": "food_estimate", "schema": FoodEstimate.model_json_schema(), "strict": True}
        )
        messages: list[SystemMessage | UserMessage] = [
            SystemMessage(content=_INSTRUCTIONS),
            UserMessage(content=phrase),
        ]
        try:
            response = await self.client.chat.complete_async(
                model=self.model,
                messages=messages,
                response_format=ResponseFormat(type="json_schema", json_schema=schema),
                temperature=0,
            )
            message = response.choices[0].message if response.choices else None
            estimate = FoodEstimate.model_validate_json(str(message.content if message else ""))
        except (ValidationError, ValueError, OSError) as exc:
            logger.warning("no usable estimate for %r: %s", phrase, exc)
            return None
        except Exception:  # the SDK's own errors: an estimate is optional, never fatal
            logger.exception("estimate request failed for %r", phrase)
            return None
        return estimate if estimate.is_consistent() else None

"""What the model reads of a tool's result (activities.result_text)."""

from __future__ import annotations

from mcp.types import CallToolResult, TextContent

from services.worker.activities import result_text


def _result(
    text: str | None, *, error: bool = False, data: dict[str, object] | None = None
) -> CallToolResult:
    content = [TextContent(type="text", text=text)] if text is not None else []
    return CallToolResult(content=content, structured_content=data, is_error=error)


def test_a_success_is_its_text_or_its_data() -> None:
    assert result_text(_result("Logged 2 eggs.")) == "Logged 2 eggs."
    assert result_text(_result(None, data={"kcal": 140})) == '{"kcal": 140}'


def test_an_error_says_so_in_words() -> None:
    refusal = "calories goal 20000 kcal is outside the plausible range 500-10000 kcal"
    assert result_text(_result(refusal, error=True)) == f"Error: {refusal}"
    assert result_text(_result("Error: unknown food", error=True)) == "Error: unknown food"
    assert result_text(_result(None, error=True)).startswith("Error: ")

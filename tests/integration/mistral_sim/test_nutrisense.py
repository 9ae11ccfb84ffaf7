"""A full NutriSense exchange through the SDK, streamed the way the platform's worker does it:
router -> handoff -> function call -> function result -> reply, then a restart from an entry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from mistralai.client import Mistral, models

from tests.fixtures.mcp_server import McpServerProcess
from tests.integration.mcp_server.mcp_client import User, mcp_session
from tests.integration.mcp_server.mcp_client import call as call_tool
from tests.integration.mcp_server.mcp_client import text_of as mcp_text_of
from tests.integration.mistral_sim.sdk import results
from tests.integration.mistral_sim.test_conversations import check_events, text_of
from tests.unit.mistral_sim.nutrisense_roster import SAMPLE_QUERIES, TOOL_OF


@dataclass
class Step:
    """What the worker's `converse` activity keeps from one streamed step."""

    conversation_id: str = ""
    types: list[str] = field(default_factory=list)
    handoffs: list[tuple[str, str]] = field(default_factory=list)
    calls: dict[str, dict[str, str]] = field(default_factory=dict)
    speakers: set[str] = field(default_factory=set)
    text: str = ""
    usage: models.ConversationUsageInfo | None = None


async def collect(stream: object) -> Step:
    events = [event async for event in stream]  # type: ignore[attr-defined]
    step = Step(types=check_events(events), text=text_of(events))
    for event in events:
        data = event.data
        if isinstance(data, models.ResponseStartedEvent):
            step.conversation_id = data.conversation_id
        elif isinstance(data, models.AgentHandoffStartedEvent):
            step.handoffs.append((data.previous_agent_name, ""))
        elif isinstance(data, models.AgentHandoffDoneEvent):
            step.handoffs[-1] = (step.handoffs[-1][0], data.next_agent_name)
        elif isinstance(data, models.FunctionCallEvent):
            call = step.calls.setdefault(
                data.tool_call_id, {"name": data.name, "arguments": "", "agent_id": ""}
            )
            call["arguments"] += data.arguments
            call["agent_id"] = str(data.agent_id)
        elif isinstance(data, models.MessageOutputEvent):
            step.speakers.add(str(data.agent_id))
        elif isinstance(data, models.ResponseDoneEvent):
            step.usage = data.usage
    return step


async def test_streamed_exchange_with_handoffs_and_restart(
    aclient: Mistral, nutrisense: dict[str, str]
) -> None:
    conversations = aclient.beta.conversations
    goal = "Set my calorie goal to 2000 calories, 100g protein, 100g carbs, 100g fibre."
    first = await collect(
        await conversations.start_stream_async(agent_id=nutrisense["router-agent"], inputs=goal)
    )
    assert first.types[:3] == [
        "conversation.response.started",
        "agent.handoff.started",
        "agent.handoff.done",
    ]
    assert first.handoffs == [("router-agent", "goal-setting-agent")]
    ((call_id, call),) = first.calls.items()
    assert call["name"] == "goal_setting"
    assert call["agent_id"] == nutrisense["goal-setting-agent"]
    assert json.loads(call["arguments"]) == {"user_query": goal}
    assert first.usage is not None
    assert first.usage.completion_tokens

    tool_result = json.dumps({"message": "Daily goals saved: 2000 kcal, 100 g protein."})
    reply = await collect(
        await conversations.append_stream_async(
            conversation_id=first.conversation_id, inputs=results((call_id, tool_result))
        )
    )
    assert reply.conversation_id == first.conversation_id
    assert reply.handoffs == []
    assert reply.speakers == {nutrisense["goal-setting-agent"]}
    assert "2000 kcal" in reply.text

    # The next turn starts with the agent that answered last, which hands off as it declares.
    log = "Log the food for breakfast - I had 2 eggs, 1 slice of bread, and 1 cup of coffee."
    second = await collect(
        await conversations.append_stream_async(conversation_id=first.conversation_id, inputs=log)
    )
    assert second.handoffs == [("goal-setting-agent", "food-logging-agent")]
    ((second_call_id, second_call),) = second.calls.items()
    assert second_call["name"] == "food_log"

    # A retried step restarts from the last entry of the last completed step.
    history = await conversations.get_history_async(conversation_id=first.conversation_id)
    last_completed = history.entries[4]
    assert isinstance(last_completed, models.MessageOutputEntry)
    retried = await collect(
        await conversations.restart_stream_async(
            conversation_id=first.conversation_id,
            from_entry_id=str(last_completed.id),
            inputs=log,
        )
    )
    assert retried.conversation_id != first.conversation_id
    assert retried.handoffs == second.handoffs
    ((retry_call_id, _),) = retried.calls.items()
    assert retry_call_id != second_call_id
    forked = await conversations.get_history_async(conversation_id=retried.conversation_id)
    assert [e.id for e in forked.entries[:5]] == [e.id for e in history.entries[:5]]
    assert [type(e).__name__ for e in forked.entries[5:]] == [
        "MessageInputEntry",
        "AgentHandoffEntry",
        "FunctionCallEntry",
    ]
    done = await collect(
        await conversations.append_stream_async(
            conversation_id=retried.conversation_id,
            inputs=results((retry_call_id, '{"summary": "Logged 2 eggs, bread, coffee."}')),
        )
    )
    assert done.speakers == {nutrisense["food-logging-agent"]}
    assert "Logged 2 eggs" in done.text


@pytest.mark.parametrize(("query", "specialist"), SAMPLE_QUERIES.items())
def test_sample_queries_route_to_their_specialist(
    client: Mistral, nutrisense: dict[str, str], query: str, specialist: str
) -> None:
    response = client.beta.conversations.start(agent_id=nutrisense["router-agent"], inputs=query)
    handoff, *rest = response.outputs
    assert isinstance(handoff, models.AgentHandoffEntry)
    assert handoff.previous_agent_id == nutrisense["router-agent"]
    assert handoff.next_agent_id == nutrisense[specialist]
    assert handoff.next_agent_name == specialist
    if specialist in TOOL_OF:
        (call,) = rest
        assert isinstance(call, models.FunctionCallEntry)
        assert call.name == TOOL_OF[specialist]
        assert json.loads(str(call.arguments)) == {"user_query": query}
    else:
        execution, message = rest
        assert isinstance(execution, models.ToolExecutionEntry)
        assert execution.name == "web_search"
        assert isinstance(message, models.MessageOutputEntry)
        assert message.agent_id == nutrisense["web-search-agent"]
        assert isinstance(message.content, list)
        cited = [c for c in message.content if isinstance(c, models.ToolReferenceChunk)]
        assert [c.url for c in cited] == [r["url"] for r in (execution.info or {})["results"]]
        assert response.usage.connectors == {"web_search": 1}


def test_web_search_stream_events(client: Mistral, nutrisense: dict[str, str]) -> None:
    query = "Recommend me some restaurants in paris that serve good grilled chicken."
    events = list(
        client.beta.conversations.start_stream(agent_id=nutrisense["router-agent"], inputs=query)
    )
    types = check_events(events)
    assert types[1:5] == [
        "agent.handoff.started",
        "agent.handoff.done",
        "tool.execution.started",
        "tool.execution.delta",
    ]
    done = next(e.data for e in events if isinstance(e.data, models.ToolExecutionDoneEvent))
    assert done.info is not None
    assert done.info["results"]
    indices = {
        type(e.data).__name__: e.data.output_index
        for e in events
        if not isinstance(e.data, (models.ResponseStartedEvent, models.ResponseDoneEvent))
    }
    assert indices["AgentHandoffDoneEvent"] == 0
    assert indices["ToolExecutionDoneEvent"] == 1
    assert indices["MessageOutputEvent"] == 2
    chunks = [
        e.data.content
        for e in events
        if isinstance(e.data, models.MessageOutputEvent)
        and isinstance(e.data.content, models.ToolReferenceChunk)
    ]
    assert len(chunks) == 2


async def goal_turn(aclient: Mistral, router: str, mcp_url: str, text: str) -> str:
    """One goal-setting turn as the worker runs it: the simulator calls goal_setting, the real
    MCP server answers (its text, as the worker forwards it), the simulator words the reply."""
    conversations = aclient.beta.conversations
    started = await conversations.start_async(agent_id=router, inputs=text)
    (call,) = [o for o in started.outputs if isinstance(o, models.FunctionCallEntry)]
    assert call.name == "goal_setting"
    async with mcp_session(mcp_url) as session:
        result = await call_tool(session, call.name, text, User.fresh())
    answered = await conversations.append_async(
        conversation_id=started.conversation_id,
        inputs=results((call.tool_call_id, mcp_text_of(result))),
    )
    return str(answered.outputs[-1].content)  # type: ignore[union-attr]


async def test_kcal_goals_are_set_and_refused_goals_are_said_to_fail(
    aclient: Mistral, nutrisense: dict[str, str], mcp_server: McpServerProcess
) -> None:
    router = nutrisense["router-agent"]
    done = await goal_turn(aclient, router, mcp_server.url, "Set my calorie goal to 2000 kcal")
    assert done.startswith("Your goals are set. Updated calories")
    assert "calories 2000 kcal" in done
    refused = await goal_turn(aclient, router, mcp_server.url, "Set my calorie goal to 20k kcal")
    assert refused.startswith("I could not set your goals: calories goal 20000 kcal is outside")
    assert "goals are set" not in refused

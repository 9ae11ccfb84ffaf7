"""The chat page at `/` in Chromium against a real local stack: what issue 14 asks of it.

Each test holds what the page shows against the public API's transcript of the same session:
the text of a reply appears once, whole, whatever happened while it streamed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import httpx2
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Request, Route, expect

from scripts.stack.local import DEV_API_KEY, LocalStack
from tests.web.chat import ChatPage, Transcript, reply_text, words
from tests.web.conftest import Shots

pytestmark = pytest.mark.e2e

GOALS = "Set my calorie goal to 2000 calories, 100g protein, 100g carbs, 100g fibre."
# About 200 words: some ten seconds at the stack's pace, long enough to act in the middle.
LONG = "Provide recommendations for dinner based on the goals."
PROGRESS = "What is the progress so far for the day?. Provide Nutrition analysis."
BREAKFAST = "Log the food for breakfast - I had 2 eggs, 1 slice of bread and 1 cup of coffee."


def new_user() -> str:
    return f"web-{uuid.uuid4().hex[:8]}"


def shown(markdown: str) -> str:
    """What the page shows of a reply: list markers become list items."""
    return words(re.sub(r"(?m)^\s*(?:[-*+]|\d+[.)])\s+", "", markdown))


@pytest.fixture(scope="module")
def transcript(web_stack: LocalStack) -> Iterator[Transcript]:
    client = Transcript(web_stack.gateway_url)
    yield client
    client.close()


@pytest.fixture
def chat(page: Page, web_stack: LocalStack) -> ChatPage:
    return ChatPage(page, web_stack.gateway_url)


def assert_reply_matches(chat: ChatPage, transcript: Transcript, index: int = -1) -> None:
    turn = chat.turns.nth(index) if index >= 0 else chat.last_turn()
    turn_id = turn.get_attribute("data-turn-id")
    assert turn_id
    record = transcript.turn(chat.session_id, turn_id)
    assert record["status"] == "completed", record
    assert reply_text(turn) == shown(record["output"])


def test_a_wrong_key_is_refused_and_the_right_one_kept(
    chat: ChatPage, web_stack: LocalStack, shots: Shots
) -> None:
    page = chat.page
    page.goto(web_stack.gateway_url + "/")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    shots.take(page, "asks-for-key")
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("alert").filter(has_text="not accepted")).to_contain_text("401")
    shots.take(page, "wrong-key")

    page.get_by_label("API key").fill("dev-key")
    page.get_by_label("User id").fill(new_user())
    page.get_by_role("button", name="Connect").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="New chat")).to_be_visible()
    # Kept in the browser: a reload does not ask again.
    page.reload()
    expect(page.get_by_role("button", name="New chat")).to_be_visible()
    expect(page.get_by_role("dialog")).to_be_hidden()
    shots.take(page, "connected")


def test_the_key_link_leaves_no_key_in_the_address(chat: ChatPage) -> None:
    chat.open(new_user())
    assert "key" not in chat.page.url
    assert chat.page.evaluate("localStorage.getItem('durable-agents.api-key')") == "dev-key"


def test_a_nutrisense_turn_streams_to_the_end(
    chat: ChatPage, transcript: Transcript, shots: Shots
) -> None:
    requested: list[str] = []
    chat.page.on("request", lambda request: requested.append(request.url))
    chat.open(new_user())
    turn = chat.send(GOALS)
    expect(chat.stop_button()).to_be_visible()  # a turn runs
    chat.wait_for_text(turn)
    shots.take(chat.page, "mid-reply")
    chat.wait_status(turn, "completed")
    expect(chat.stop_button()).to_be_hidden()
    expect(turn.locator(".chip.agent")).to_have_text("goal-setting-agent")
    expect(turn.locator(".chip.handoff")).to_contain_text("goal-setting-agent")
    tool = turn.locator("details.tool")
    expect(tool.locator("summary")).to_contain_text("goal_setting")
    tool.locator("summary").click()
    expect(tool.locator("pre.result")).to_contain_text("2000")
    assert_reply_matches(chat, transcript)
    shots.take(chat.page, "completed")
    # Nothing left the origin, and the key went in no URL.
    assert requested
    assert all(url.startswith(chat.base_url + "/") for url in requested), requested
    assert not [url for url in requested if DEV_API_KEY in url]


def test_a_reload_mid_reply_shows_all_of_it_once(
    chat: ChatPage, transcript: Transcript, shots: Shots
) -> None:
    chat.open(new_user())
    chat.send(GOALS)
    chat.wait_status(chat.last_turn(), "completed")
    turn = chat.send(LONG)
    before = chat.wait_for_text(turn, min_chars=40)
    shots.take(chat.page, "before-reload")
    chat.page.reload()
    turn = chat.turns.nth(1)
    # The page rebuilt the conversation while the reply still ran, and goes on with it.
    expect(chat.turns.first).to_have_attribute("data-status", "completed")
    expect(turn).to_have_attribute("data-status", "running")
    expect(turn.locator(".user-text")).to_have_text(LONG)
    expect(turn.locator(".reply-text").first).to_contain_text(before[:40])
    shots.take(chat.page, "after-reload")
    chat.wait_for_text(turn, min_chars=400)
    shots.take(chat.page, "mid-reply")  # the README's picture (docs/screenshot.png)
    chat.wait_status(turn, "completed")
    assert_reply_matches(chat, transcript, 0)
    assert_reply_matches(chat, transcript, 1)
    shots.take(chat.page, "completed")


def test_two_tabs_show_the_same_stream(
    context: BrowserContext, web_stack: LocalStack, transcript: Transcript, shots: Shots
) -> None:
    first = ChatPage(context.new_page(), web_stack.gateway_url).open(new_user())
    first.send(GOALS)
    first.wait_status(first.last_turn(), "completed")
    second = ChatPage(context.new_page(), web_stack.gateway_url)
    second.page.goto(first.page.url)
    expect(second.turns).to_have_count(1)
    turn = first.send(LONG)
    # The other tab draws the same reply while it streams, with the message it did not send.
    other = second.turns.nth(1)
    expect(other).to_have_attribute("data-status", "running")
    second.wait_for_text(other, min_chars=20)
    expect(other.locator(".user-text")).to_have_text(LONG)
    shots.take(second.page, "second-tab-live")
    first.wait_status(turn, "completed")
    second.wait_status(other, "completed")
    assert reply_text(other) == reply_text(turn)
    assert_reply_matches(second, transcript)


def test_approve_and_reject_a_food_log(
    chat: ChatPage, transcript: Transcript, shots: Shots
) -> None:
    chat.open(new_user())
    turn = chat.send(BREAKFAST)
    card = turn.get_by_role("region", name="Approval for food_log")
    expect(card).to_contain_text("food_log")
    expect(turn.locator("details.tool .tool-state")).to_have_text("waiting for approval")
    shots.take(chat.page, "approval-asked")
    card.get_by_role("button", name="Approve").click()
    expect(card.locator(".outcome")).to_have_text("Approved")
    chat.wait_status(turn, "completed")
    expect(turn.locator("details.tool pre.result")).to_contain_text("Logged")
    shots.take(chat.page, "approved")

    turn = chat.send("Log the food for lunch - I had 1 apple.")
    card = turn.get_by_role("region", name="Approval for food_log")
    card.get_by_role("button", name="Reject").click()
    expect(card.locator(".outcome")).to_contain_text("Rejected")
    chat.wait_status(turn, "completed")
    expect(turn.get_by_role("button", name="Approve")).to_be_disabled()
    (record,) = [
        t
        for t in transcript.turns(chat.session_id)
        if t["turn_id"] == turn.get_attribute("data-turn-id")
    ]
    assert "did not approve" in str(record["tool_calls"]) + str(record["output"])
    shots.take(chat.page, "rejected")


def test_a_retried_step_shows_its_text_once(
    chat: ChatPage, web_stack: LocalStack, transcript: Transcript, shots: Shots
) -> None:
    chat.open(new_user())
    turn = chat.send(BREAKFAST)
    card = turn.get_by_role("region", name="Approval for food_log")
    # The step after the approval streams the reply: the model's stream drops in its middle,
    # the step is retried, and the page drops what the failed attempt had shown.
    with httpx2.Client(base_url=web_stack.sim_url, timeout=10) as sim:
        fault = {"kind": "disconnect", "after_events": 8, "times": 1}
        sim.post("/_sim/faults", json=fault).raise_for_status()
    card.get_by_role("button", name="Approve").click()
    chat.wait_status(turn, "completed")
    expect(turn.locator(".chip.note")).to_have_text("retried")
    assert_reply_matches(chat, transcript)
    turn_id = turn.get_attribute("data-turn-id")
    types = transcript.event_types(chat.session_id, str(turn_id))
    retry = types.index("turn.retry")
    assert "message.delta" in types[:retry]  # the failed attempt had streamed text
    shots.take(chat.page, "retried")


def test_stop_ends_the_running_reply(chat: ChatPage, shots: Shots) -> None:
    chat.open(new_user())
    turn = chat.send(LONG)
    chat.wait_for_text(turn, min_chars=20)
    chat.stop_button().click()
    chat.wait_status(turn, "cancelled")
    expect(turn.locator(".turn-status")).to_have_text("Stopped")
    expect(chat.stop_button()).to_be_hidden()
    shots.take(chat.page, "stopped")
    after = chat.send(PROGRESS)
    chat.wait_status(after, "completed")


def test_a_message_while_busy_waits_or_interrupts_as_chosen(chat: ChatPage, shots: Shots) -> None:
    chat.open(new_user())
    running = chat.send(LONG)
    chat.wait_for_text(running, min_chars=10)
    queued = chat.send(GOALS)  # the default: it waits its turn
    expect(queued).to_have_attribute("data-status", "queued")
    expect(queued.locator(".turn-status")).to_contain_text("Queued")
    shots.take(chat.page, "queued")
    chat.page.get_by_label("interrupts it").check()
    interrupting = chat.send(PROGRESS)
    chat.wait_status(running, "cancelled")
    chat.wait_status(interrupting, "completed")
    shots.take(chat.page, "interrupted")


def test_a_session_picked_from_the_list_after_a_reload(
    chat: ChatPage, transcript: Transcript, shots: Shots
) -> None:
    chat.open(new_user())
    first = chat.send(GOALS)
    chat.wait_status(first, "completed")
    sid = chat.session_id
    chat.page.get_by_role("button", name="New chat").click()
    second = chat.send(PROGRESS)
    chat.wait_status(second, "completed")
    assert chat.session_id != sid

    chat.page.goto(chat.page.url.split("#")[0])
    chat.page.reload()
    sessions = chat.page.get_by_role("navigation", name="Sessions").get_by_role("link")
    expect(sessions).to_have_count(2)
    expect(sessions.first).to_contain_text("What is the progress")  # newest first
    shots.take(chat.page, "list")
    sessions.filter(has_text="Set my calorie goal").click()
    expect(chat.turns).to_have_count(1)
    assert chat.session_id == sid
    expect(chat.turns.first.locator(".user-text")).to_have_text(GOALS)
    assert_reply_matches(chat, transcript)
    shots.take(chat.page, "picked")


def test_a_dropped_connection_reconnects_by_itself(
    chat: ChatPage, web_stack: LocalStack, transcript: Transcript, shots: Shots
) -> None:
    chat.open(new_user())
    turn = chat.send(LONG)
    chat.wait_for_text(turn, min_chars=20)
    connection = chat.page.locator("#connection")
    web_stack.services["gateway"].stop(timeout=30)
    expect(connection).to_have_text(re.compile("reconnecting"))
    shots.take(chat.page, "reconnecting")
    web_stack.start_service(web_stack.specs["gateway"])
    chat.wait_status(turn, "completed")
    expect(connection).to_have_text("Live")
    assert_reply_matches(chat, transcript)


def test_an_overloaded_gateway_is_waited_out_and_the_message_sent_again(
    chat: ChatPage, shots: Shots
) -> None:
    chat.open(new_user())
    keys: list[str | None] = []

    def overloaded_once(route: Route, request: Request) -> None:
        keys.append(request.headers.get("idempotency-key"))
        if len(keys) > 1:
            route.continue_()
            return
        problem = {
            "type": "urn:durable-agents:problem:overloaded",
            "title": "Too Many Requests",
            "status": 429,
            "detail": "The platform is at capacity; the turn was not queued.",
        }
        headers = {"Retry-After": "2", "Content-Type": "application/problem+json"}
        route.fulfill(status=429, headers=headers, body=json.dumps(problem))

    chat.page.route("**/v1/sessions/*/messages", overloaded_once)
    chat.message_box.fill(GOALS)
    chat.message_box.press("Enter")
    expect(chat.page.get_by_role("alert")).to_contain_text("trying again in 2 s")
    shots.take(chat.page, "overloaded")
    chat.wait_status(chat.last_turn(), "completed")
    assert len(keys) == 2
    assert keys[0]
    assert keys[0] == keys[1]  # the same Idempotency-Key: the turn runs at most once
    expect(chat.page.get_by_role("alert")).to_be_hidden()


MARKUP = (
    '<img src=x onerror="window.pwned=1"> **bold**, `code` and [a link](javascript:void(0))\n\n'
    "- one\n- two"
)


def test_markup_from_the_model_is_shown_as_text(
    chat: ChatPage, web_stack: LocalStack, transcript: Transcript
) -> None:
    sid = transcript.new_session(new_user())
    turn_id = "turn_markup"

    def markup_stream(route: Route, request: Request) -> None:
        if request.headers.get("last-event-id") != "0":  # the page's resume: the real stream
            route.continue_()
            return
        common = {"session_id": sid, "turn_id": turn_id, "ts": "2026-12-02T00:00:00.000Z"}
        events = [
            ("1-1", {"type": "turn.started", "agent": "router-agent", **common}),
            ("1-2", {"type": "message.delta", "text": MARKUP, **common}),
            ("1-3", {"type": "turn.completed", "output": MARKUP, **common}),
        ]
        body = "".join(
            f"id: {id_}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"
            for id_, event in events
        )
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    # A reply as a model could write it, streamed to the page as the gateway would.
    chat.page.route("**/v1/sessions/*/events", markup_stream)
    chat.open(new_user(), path="/")
    chat.page.goto(f"{web_stack.gateway_url}/#/s/{sid}")
    turn = chat.turns.first
    chat.wait_status(turn, "completed")
    reply = turn.locator(".reply-text")
    expect(reply).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(reply.locator("strong")).to_have_text("bold")
    expect(reply.locator("code")).to_have_text("code")
    expect(reply.locator("li")).to_have_text(["one", "two"])
    assert reply.locator("img").count() == 0
    assert reply.locator("a").count() == 0  # a javascript: target is no link
    assert chat.page.evaluate("window.pwned") is None


def test_a_stream_gap_redraws_the_turn_from_the_transcript(
    chat: ChatPage, transcript: Transcript
) -> None:
    chat.open(new_user())
    turn = chat.send(LONG)
    chat.wait_for_text(turn, min_chars=20)
    gaps: list[str] = []

    def gap_once(route: Route, request: Request) -> None:
        if gaps:
            route.continue_()
            return
        gaps.append(request.url)
        event = {"session_id": chat.session_id, "type": "stream.gap", "after": "0"}
        body = f"event: stream.gap\ndata: {json.dumps(event)}\n\n"
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=body)

    # The reloaded page's stream first says events were lost, then drops; the page resumes and
    # draws the turn from the transcript at its end: no piece twice.
    chat.page.route("**/v1/sessions/*/events", gap_once)
    chat.page.reload()
    turn = chat.turns.first
    chat.wait_status(turn, "completed")
    assert gaps
    assert_reply_matches(chat, transcript)
    expect(turn.locator("details.tool")).to_have_count(1)


PARSE_IN_PIECES = """async ([text, size]) => {
    const { SseParser } = await import("/web/sse.js");
    const seen = [];
    const parser = new SseParser((event) => seen.push(event));
    for (let at = 0; at < text.length; at += size) parser.push(text.slice(at, at + size));
    return seen;
}"""


@pytest.mark.parametrize("size", [1, 3, 1000])
def test_the_sse_parser_takes_any_chunking(chat: ChatPage, size: int) -> None:
    chat.open(new_user())
    text = (
        ': ping\r\nid: 5-1\r\nevent: message.delta\r\ndata: {"text":"a"}\r\n\r\n'
        'event: turn.completed\ndata: {"output":\ndata: "ab"}\n\r\n'
        "data: no end yet"
    )
    events = chat.page.evaluate(PARSE_IN_PIECES, [text, size])
    assert events == [
        {"type": "message.delta", "data": '{"text":"a"}', "id": "5-1"},
        {"type": "turn.completed", "data": '{"output":\n"ab"}', "id": None},
    ]


def test_an_ended_session_says_so_and_takes_no_message(
    chat: ChatPage, transcript: Transcript, shots: Shots
) -> None:
    chat.open(new_user())
    turn = chat.send(GOALS)
    chat.wait_status(turn, "completed")
    transcript.end_session(chat.session_id)
    expect(chat.page.get_by_text("This session has ended.")).to_be_visible()
    expect(chat.message_box).to_be_disabled()
    chat.page.reload()  # the replay ends with session.ended: still ended, the turn still there
    expect(chat.page.get_by_text("This session has ended.")).to_be_visible()
    expect(chat.message_box).to_be_disabled()
    expect(chat.turns).to_have_count(1)
    shots.take(chat.page, "ended")


def test_keyboard_only_on_a_narrow_screen(
    browser: Browser, web_stack: LocalStack, shots: Shots
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        chat = ChatPage(page, web_stack.gateway_url).open(new_user())
        page.keyboard.press("Tab")  # the skip link
        expect(page.get_by_role("link", name="Skip to the message box")).to_be_focused()
        page.keyboard.press("Enter")
        expect(chat.message_box).to_be_focused()
        page.keyboard.type("Hello there")
        page.keyboard.press("Shift+Enter")
        page.keyboard.type("and good evening")
        assert chat.message_box.input_value() == "Hello there\nand good evening"
        page.keyboard.press("Enter")
        turn = chat.turns.first
        chat.wait_status(turn, "completed")
        expect(turn.locator(".user-text")).to_have_text("Hello there\nand good evening")
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.get_by_role("button", name="Chats").focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("navigation", name="Sessions").get_by_role("link")).to_have_count(1)
        shots.take(page, "narrow")
    finally:
        context.close()

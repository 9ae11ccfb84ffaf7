"""The chat page as a test drives it: what a person sees and does, by label and role."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx2
from playwright.sync_api import Locator, Page, expect

from scripts.stack.local import DEV_API_KEY


def words(text: str) -> str:
    """Text with its whitespace collapsed, as the page's rendering may rewrap it."""
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class ChatPage:
    page: Page
    base_url: str

    def open(self, user: str, path: str = "/") -> ChatPage:
        """Open the page through the link `make dev` prints: the key in the fragment."""
        self.page.goto(f"{self.base_url}{path}#key={DEV_API_KEY}&user={user}")
        expect(self.page.locator("body")).to_have_attribute("data-ready", "true")
        expect(self.page.get_by_role("dialog")).to_be_hidden()
        return self

    @property
    def message_box(self) -> Locator:
        return self.page.get_by_label("Message", exact=True)

    def send(self, text: str) -> Locator:
        """Type and press Enter; the new turn's element."""
        count = self.turns.count()
        self.message_box.fill(text)
        self.message_box.press("Enter")
        turn = self.turns.nth(count)
        expect(turn).to_have_attribute("data-turn-id", re.compile(r".+"))
        return turn

    @property
    def turns(self) -> Locator:
        return self.page.locator("li.turn")

    @property
    def session_id(self) -> str:
        match = re.search(r"#/s/([^/?#&]+)$", self.page.url)
        assert match, f"no session in {self.page.url}"
        return match.group(1)

    def last_turn(self) -> Locator:
        return self.turns.last

    def wait_for_text(self, turn: Locator, min_chars: int = 1) -> str:
        """Wait until the reply shows at least `min_chars` characters, and return them."""
        reply = turn.locator(".reply-text").first
        expect(reply).to_have_text(re.compile(rf"\S[\s\S]{{{max(min_chars - 1, 0)},}}"))
        return reply_text(turn)

    def wait_status(self, turn: Locator, status: str, timeout_s: float = 60) -> None:
        expect(turn).to_have_attribute("data-status", status, timeout=timeout_s * 1000)

    def stop_button(self) -> Locator:
        return self.page.get_by_role("button", name="Stop")


def reply_text(turn: Locator) -> str:
    return words(" ".join(turn.locator(".reply-text").all_inner_texts()))


class Transcript:
    """The public API's record of a session, to hold the page against."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx2.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {DEV_API_KEY}"}, timeout=30
        )

    def turns(self, sid: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/v1/sessions/{sid}/turns")
        response.raise_for_status()
        turns: list[dict[str, Any]] = response.json()["turns"]  # oldest first
        return turns

    def turn(self, sid: str, turn_id: str) -> dict[str, Any]:
        (found,) = [turn for turn in self.turns(sid) if turn["turn_id"] == turn_id]
        return found

    def new_session(self, user_id: str) -> str:
        response = self.http.post("/v1/sessions", json={"user_id": user_id})
        response.raise_for_status()
        return str(response.json()["session_id"])

    def end_session(self, sid: str) -> None:
        self.http.delete(f"/v1/sessions/{sid}").raise_for_status()

    def event_types(self, sid: str, turn_id: str) -> list[str]:
        """The turn's events in the replay log, by type (the stream ends at the turn's end)."""
        url = f"/v1/sessions/{sid}/events"
        query = {"turn_id": turn_id}
        with self.http.stream(
            "GET", url, params=query, headers={"Accept": "text/event-stream"}
        ) as r:
            r.raise_for_status()
            return [line[7:] for line in r.iter_lines() if line.startswith("event: ")]

    def close(self) -> None:
        self.http.close()

"""What a session keeps (services/worker/session_state.py): shortened texts."""

from __future__ import annotations

from services.worker.session_state import shortened


def test_shortened_keeps_the_limit_with_an_ellipsis() -> None:
    assert shortened("abc", 3) == "abc"
    assert shortened("abcd", 3) == "ab\u2026"
    assert len(shortened("x" * 5000, 1000)) == 1000
    assert shortened("", 1) == ""

"""`make dev`'s keys and its stop: the user's GATEWAY_API_KEYS are kept (the dev key only when
none are set), and however many SIGINT/SIGTERM arrive while it stops, the stack is stopped."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

import scripts.dev
from scripts.dev import LogTail, Stop, StopSignals, api_keys, key_rows, run
from scripts.stack.local import DEV_API_KEYS, LocalStack


@pytest.fixture
def own_handlers() -> Iterator[None]:
    """The test installs the stack's handlers; pytest's own come back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def signal_self(sig: signal.Signals) -> None:
    # Delivered to this (main) thread; Python runs the handler at its next check.
    os.kill(os.getpid(), sig)


def test_the_user_s_keys_are_kept_and_the_dev_key_only_fills_in() -> None:
    assert api_keys({}) == DEV_API_KEYS
    assert api_keys({"GATEWAY_API_KEYS": "  "}) == DEV_API_KEYS
    assert api_keys({"GATEWAY_API_KEYS": "k-0123456789:acme"}) == "k-0123456789:acme"


def test_the_banner_names_the_dev_key_but_never_the_user_s() -> None:
    dev = LocalStack(Path("unused"))
    dev_text = str(key_rows(dev))
    assert "dev-key" in dev_text
    assert "#key=dev-key" not in dev_text  # no gateway in this stack: no chat link
    own = LocalStack(Path("unused"), api_keys="secret-aaaa:acme, secret-bbbb:beta")
    text = str(key_rows(own))
    assert "secret" not in text
    assert "tenants: acme, beta" in text
    assert "dev-key" not in text


def test_stop_is_raised_once_and_later_signals_are_dropped(own_handlers: None) -> None:
    signals = StopSignals().install()
    with pytest.raises(Stop, match="SIGTERM"):
        signal_self(signal.SIGTERM)
    assert signals.stopping
    # The second SIGTERM (`uv run` forwarding it) and a second Ctrl-C: nothing is raised.
    signal_self(signal.SIGTERM)
    signal_self(signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) == signals.handle


@dataclass
class SignalledStack:
    """Gets SIGTERM while starting, and SIGTERM and SIGINT again halfway through its stop."""

    steps: list[str] = field(default_factory=list)
    services: dict[str, Any] = field(default_factory=dict)

    def start(self, on_started: Any = None) -> None:
        self.steps.append("start")
        signal_self(signal.SIGTERM)
        self.steps.append("started")  # never reached: the first signal stops the start

    def stop(self) -> None:
        self.steps.append("stopping services")
        signal_self(signal.SIGTERM)
        signal_self(signal.SIGINT)
        self.steps.append("stopping servers")
        signal_self(signal.SIGTERM)
        self.steps.append("stopped")


class QuietTail:
    def pump(self) -> None:
        pass


def test_signals_during_the_stop_do_not_cut_it_short(
    own_handlers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    printed: list[str] = []

    def print_and_get_signalled(*args: object, **kwargs: object) -> None:
        printed.append(" ".join(map(str, args)))
        if "stopping the stack" in printed[-1]:
            # Between the first Stop and the stop itself: the window the old code left open.
            signal_self(signal.SIGTERM)

    monkeypatch.setattr(scripts.dev, "print", print_and_get_signalled, raising=False)
    stack = SignalledStack()
    status = run(cast(LocalStack, stack), cast(LogTail, QuietTail()), StopSignals().install())
    assert status == 0
    assert stack.steps == ["start", "stopping services", "stopping servers", "stopped"]
    assert printed[-1] == "stopped"

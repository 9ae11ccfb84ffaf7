"""Free ports for test stacks: never the same port twice."""

from __future__ import annotations

from scripts.stack.processes import free_port


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    # 300 picks from the 12,000 ports below 32768 collide almost surely (birthday bound, ~97%)
    # unless the handed-out ports are remembered.
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(1024 < port < 32768 for port in ports)

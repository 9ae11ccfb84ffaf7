"""The benchmark's figures, drawn from its results (PNG, under docs/bench/ by default).

- `throughput.png`: turns/s against sessions at once, the platform and the direct path;
- `ttft.png` and `turn_time.png`: the distributions (empirical CDFs) at each concurrency, the
  platform solid, the direct path dashed;
- `cpu.png`: CPU milliseconds per turn by component, both paths at each concurrency;
- `fanout.png`: fan-out lag (p50, p99) against viewers.
Sections that did not run draw nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI

import matplotlib.pyplot as plt  # after choosing the backend

DPI = 110
PLATFORM, DIRECT = "#1f6feb", "#8b949e"
FANOUT_TARGET_P99_MS = 100
COMPONENTS = ("workers", "temporal", "gateway", "redis", "mcp", "simulator", "client")


def draw(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Every figure the results allow; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if conc := results.get("concurrency"):
        rows = conc["rows"]
        written.append(_throughput(rows, out_dir / "throughput.png"))
        written.append(_distributions(rows, "ttft_ms", "time to first token", out_dir / "ttft.png"))
        written.append(
            _distributions(rows, "turn_ms", "turn time (send to end)", out_dir / "turn_time.png")
        )
        written.append(_cpu(rows, out_dir / "cpu.png"))
    if fan := results.get("fanout"):
        written.append(_fanout(fan["rows"], out_dir / "fanout.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _counts_axis(ax: Any, counts: list[int], label: str) -> None:
    """A log x axis ticked at the counts measured, a y axis from zero, a grid and the legend."""
    ax.set_xscale("log")
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.set_xlabel(label)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()


def _throughput(rows: list[dict[str, Any]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4))
    sessions = [row["sessions"] for row in rows]
    for side, color, label in (("platform", PLATFORM, "platform"), ("direct", DIRECT, "direct")):
        ax.plot(
            sessions, [row[side]["turns_per_s"] for row in rows], "o-", color=color, label=label
        )
    _counts_axis(ax, sessions, "sessions sending a turn at once")
    ax.set_ylabel("turns per second")
    ax.set_title("Throughput: the platform against the direct path")
    return _save(fig, path)


def _distributions(rows: list[dict[str, Any]], key: str, what: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4))
    cmap = plt.get_cmap("viridis")
    for index, row in enumerate(rows):
        color = cmap(index / max(1, len(rows) - 1))
        for side, style in (("platform", "-"), ("direct", "--")):
            values = sorted(row[side].get("samples", {}).get(key, []))
            if not values:
                continue
            shares = [(i + 1) / len(values) for i in range(len(values))]
            label = f"{row['sessions']} at once" if side == "platform" else None
            ax.step(
                [v / 1000.0 for v in values], shares, style, where="post", color=color, label=label
            )
    ax.set_xscale("log")
    ax.set_xlabel(f"{what}, seconds (solid: platform, dashed: direct path)")
    ax.set_ylabel("share of turns")
    ax.set_title(what.capitalize())
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return _save(fig, path)


def _cpu(rows: list[dict[str, Any]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7.2, 4))
    labels: list[str] = []
    bottoms: list[float] = []
    bars: list[dict[str, float]] = []
    for row in rows:
        for side in ("direct", "platform"):
            labels.append(f"{row['sessions']}\n{side}")
            bars.append(row[side]["cpu_ms_per_turn"])
            bottoms.append(0.0)
    cmap = plt.get_cmap("tab10")
    for index, component in enumerate(COMPONENTS):
        heights = [bar.get(component, 0.0) for bar in bars]
        ax.bar(labels, heights, bottom=bottoms, color=cmap(index), label=component)
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ax.set_ylabel("CPU ms per turn")
    ax.set_title("Where a turn's CPU goes (sessions at once, path)")
    ax.tick_params(axis="x", labelsize="small")
    ax.legend(fontsize="small", ncols=2)
    return _save(fig, path)


def _fanout(rows: list[dict[str, Any]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6.4, 4))
    viewers = [row["viewers"] for row in rows]
    for stat, style in (("p50", "o-"), ("p99", "s--")):
        ax.plot(viewers, [row["lag_ms"][stat] for row in rows], style, color=PLATFORM, label=stat)
    ax.axhline(FANOUT_TARGET_P99_MS, color="#cf222e", linestyle=":", label="target p99")
    _counts_axis(ax, viewers, "viewers of one session")
    ax.set_ylabel("lag from publish to viewer, ms")
    ax.set_title("Fan-out lag")
    return _save(fig, path)

"""The benchmark's output: the machine, one table of the figures that matter, and the JSON."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import orjson
import psutil


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model or platform.processor(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "os": f"{platform.system()} {platform.release()}",
    }


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB RAM, "
        f"Python {info['python']}, {info['os']}"
    )


def _met(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "MISSED")


def _le(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value <= limit)


def _ge(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value >= limit)


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, met) for the table."""
    out: list[tuple[str, str, str, str]] = []
    if ttft := results.get("ttft"):
        d, p, a = ttft["direct_ms"], ttft["platform_ms"], ttft["added_ms"]
        out.append(
            (
                f"TTFT direct SDK (n={d['n']})",
                f"p50 {d['p50']} / p95 {d['p95']} / p99 {d['p99']} ms",
                "",
                "",
            )
        )
        out.append(
            (
                f"TTFT platform (n={p['n']})",
                f"p50 {p['p50']} / p95 {p['p95']} / p99 {p['p99']} ms",
                "",
                "",
            )
        )
        ok = _le(a["p50"], 25) and _le(a["p99"], 80)
        out.append(
            (
                "TTFT added (paired b-a)",
                f"p50 {a['p50']} / p95 {a['p95']} / p99 {a['p99']} ms",
                "p50 <= 25, p99 <= 80 ms",
                _met(ok),
            )
        )
        out.append(("TTFT turn errors", str(ttft["errors"]), "0", _met(ttft["errors"] == 0)))
    if gaps := results.get("gaps"):
        d, p, a = gaps["direct_ms"], gaps["platform_ms"], gaps["added_ms"]
        out.append(
            (
                f"token gap, sim pacing {gaps['sim_interval_ms']} ms",
                f"direct p50 {d['p50']} / p99 {d['p99']}; "
                f"platform p50 {p['p50']} / p99 {p['p99']} ms",
                "",
                "",
            )
        )
        out.append(
            (
                "token gap added",
                f"p50 {a.get('p50')} / p99 {a.get('p99')} ms",
                "p99 <= 5 ms",
                _met(_le(a.get("p99"), 5)),
            )
        )
    if fan := results.get("fanout"):
        for row in fan["rows"]:
            lag = row["lag_ms"]
            rss = row["gateway_rss_mb"]
            target = "p99 <= 100 ms" if row["viewers"] == 1000 else ""
            ok = _le(lag["p99"], 100) if row["viewers"] == 1000 else None
            if row["errors"] or row["viewers_missing_deltas"]:
                ok = False
            out.append(
                (
                    f"fan-out {row['viewers']} viewers",
                    f"lag p50 {lag['p50']} / p99 {lag['p99']} ms; "
                    f"gateway {row['gateway_cpu_cores']} cores, {rss['peak']} MB; "
                    f"missed {row['viewers_missing_deltas']}, "
                    f"errors {row['errors']}",
                    target,
                    _met(ok),
                )
            )
    if conc := results.get("concurrency"):
        out += concurrency_rows(conc)
    if idle := results.get("idle"):
        per = idle["kib_per_idle_session"]
        out.append(
            (
                f"idle session ({idle['sessions']} sessions)",
                ", ".join(f"{name} {kib} KiB" for name, kib in per.items()),
                "",
                _met(idle["errors"] == 0) if idle["errors"] else "",
            )
        )
        h = {k: (v["events"], v["bytes"]) for k, v in idle["history"].items()}
        out.append(
            (
                "history per turn",
                "first turn {:.0f} events / {:.0f} B; +small talk {:.0f} / {:.0f} B; "
                "+tool turn {:.0f} / {:.0f} B".format(
                    *h["first_turn"], *h["small_talk_turn"], *h["tool_turn"]
                ),
                "",
                "",
            )
        )
    return out


def concurrency_rows(conc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Per N: the direct path, the platform, and the platform against the floor."""
    out: list[tuple[str, str, str, str]] = []
    target = conc["target"]
    for row in conc["rows"]:
        n, d, p, ratio = row["sessions"], row["direct"], row["platform"], row["ratio"]
        for name, side in (("direct path", d), ("platform", p)):
            t, cpu = side["ttft_ms"], side["cpu_ms_per_turn"]
            out.append(
                (
                    f"{n} at once, {name}",
                    f"{side['turns_per_s']} turns/s; TTFT p50 {t['p50']} / p99 {t['p99']} ms; "
                    f"CPU {cpu.get('total')} ms/turn; errors {side['errors']}",
                    "0 errors",
                    _met(side["errors"] == 0),
                )
            )
        if n not in (50, 200):
            continue  # issue 13's ratios are set at 50 and 200; at 1,000 only "none fails"
        worker = p["cpu_ms_per_turn"].get("workers")
        checks = [
            (
                "throughput",
                ratio["throughput_share"],
                ">= 0.5",
                _ge(ratio["throughput_share"], 0.5),
            ),
            ("TTFT p50", ratio["ttft_p50"], "<= 2x", _le(ratio["ttft_p50"], 2.0)),
            ("CPU/turn", ratio["cpu_per_turn"], "<= 2x", _le(ratio["cpu_per_turn"], 2.0)),
            ("worker CPU ms/turn", worker, "<= 40", _le(worker, target["worker_cpu_ms_per_turn"])),
        ]
        if n == 50:
            ttft = p["ttft_ms"]["p50"]
            checks.append(("TTFT p50 ms", ttft, "<= 2000", _le(ttft, 2000)))
        for label, value, limit, ok in checks:
            out.append((f"{n} at once, platform/direct {label}", str(value), limit, _met(ok)))
    return out


def table(results: dict[str, Any]) -> str:
    header = ("figure", "value", "target", "met")
    body = rows(results)
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def without_samples(value: Any) -> Any:
    """The results without their raw samples (kept in the JSON file, for the figures)."""
    if isinstance(value, dict):
        return {k: without_samples(v) for k, v in value.items() if k != "samples"}
    if isinstance(value, list):
        return [without_samples(v) for v in value]
    return value


def emit(results: dict[str, Any], json_path: Path) -> str:
    """Print the machine line, the table and the JSON; write the JSON to `json_path`."""
    text = "\n".join(
        [
            f"machine: {machine_line(results['machine'])}",
            f"simulator: {results['simulator']}",
            f"command: {results['command']}",
            "",
            table(results),
        ]
    )
    encoded = orjson.dumps(results, option=orjson.OPT_INDENT_2).decode()
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(encoded + "\n")
    print(text)
    print()
    print(orjson.dumps(without_samples(results), option=orjson.OPT_INDENT_2).decode())
    print(f"\n(JSON written to {json_path})")
    return text

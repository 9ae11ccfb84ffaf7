"""The fault matrix of issue 12: which faults, which phases, what each cell came to, as a table.

`python -m tests.chaos.matrix` runs `pytest tests/chaos` (the cells are its tests), prints the
table and writes it into docs/reliability.md between the markers below, with the command and the
commit it ran at. `make chaos` does the same.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "reliability.md"
BEGIN = "<!-- fault-matrix:begin (written by python -m tests.chaos.matrix) -->"
END = "<!-- fault-matrix:end -->"
# Where the pytest run writes each cell's outcome for the module that renders them.
RESULTS_ENV = "CHAOS_MATRIX_JSON"
# Where the stacks keep their data and logs (kept after the run); unset: pytest temp dirs.
DATA_DIR_ENV = "CHAOS_DATA_DIR"
# The commit a run is at, for a tree with no .git (an export of a commit); else git is asked.
COMMIT_ENV = "CHAOS_COMMIT"
COMMAND = "make chaos"


@dataclass(frozen=True)
class Fault:
    key: str
    title: str


@dataclass(frozen=True)
class Phase:
    key: str
    title: str
    # The SSE event that says the turn is in this phase (the fault lands right after it).
    trigger: str


# In the order the cells run: the MCP-down cell first (no roster is cached yet, so its session
# really has to resolve the team while MCP is down), the simulator restarts last (they take the
# registered agents with them, which every later session would meet).
FAULTS = (
    Fault("mcp-down-at-start", "MCP down when a session starts"),
    Fault("worker-sigkill", "worker SIGKILL (both workers)"),
    Fault("gateway-sigkill", "gateway killed mid-stream"),
    Fault("redis-pause", "Redis paused 5 s"),
    Fault("redis-restart", "Redis killed and restarted"),
    Fault("mcp-restart", "MCP restarted mid-tool"),
    Fault("mistral-429", "Mistral 429 (x2, Retry-After 1 s)"),
    Fault("mistral-503", "Mistral 503 (x2)"),
    Fault("mistral-500", "Mistral 500 (x2)"),
    Fault("mistral-drop", "Mistral stream dropped"),
    Fault("temporal-restart", "Temporal dev server killed and restarted"),
    Fault("sim-restart", "simulator restarted (state lost)"),
)

PHASES = (
    Phase("before-first-token", "before the first token", "turn.started"),
    Phase("mid-stream", "mid-stream", "message.delta"),
    Phase("tool-call", "during a tool call", "approval.resolved"),
    Phase("awaiting-approval", "waiting for approval", "approval.required"),
)

_MCP_START = (
    "the fault is the session's start: session created and first turn sent while MCP is down "
    "(the 'before the first token' cell)"
)
_MCP_TOOL = (
    "MCP is in a turn's path only while a tool runs; a restart between tool calls is "
    "tests/e2e/test_durability.py::test_mcp_server_restarted_between_turns"
)
_STATUS_MID = (
    "an HTTP error status comes before any byte of the stream; a failure once the stream "
    "runs is the 'stream dropped' row"
)
_NO_REQUEST = (
    "no Mistral request is in flight while a turn waits for approval; the request that "
    "follows the approval is the 'during a tool call' cell"
)

NOT_APPLICABLE: dict[tuple[str, str], str] = {
    ("mcp-down-at-start", "mid-stream"): _MCP_START,
    ("mcp-down-at-start", "tool-call"): _MCP_START,
    ("mcp-down-at-start", "awaiting-approval"): _MCP_START,
    ("mcp-restart", "before-first-token"): _MCP_TOOL,
    ("mcp-restart", "mid-stream"): _MCP_TOOL,
    ("mcp-restart", "awaiting-approval"): _MCP_TOOL,
    ("mistral-429", "mid-stream"): _STATUS_MID,
    ("mistral-503", "mid-stream"): _STATUS_MID,
    ("mistral-500", "mid-stream"): _STATUS_MID,
    ("mistral-429", "awaiting-approval"): _NO_REQUEST,
    ("mistral-503", "awaiting-approval"): _NO_REQUEST,
    ("mistral-500", "awaiting-approval"): _NO_REQUEST,
    ("mistral-drop", "awaiting-approval"): _NO_REQUEST,
}

FAULT_BY_KEY = {f.key: f for f in FAULTS}
PHASE_BY_KEY = {p.key: p for p in PHASES}

Status = Literal["pass", "fail", "n/a"]


@dataclass
class CellResult:
    fault: str
    phase: str
    status: Status
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Facts that do not fail the cell (e.g. "the turn failed cleanly: model_unavailable").
    notes: list[str] = field(default_factory=list)

    @property
    def cell_id(self) -> str:
        return f"{self.fault}/{self.phase}"


def cell_ids() -> list[tuple[str, str]]:
    return [(f.key, p.key) for f in FAULTS for p in PHASES]


class Recorder:
    """Each cell's outcome, in the order the cells ran."""

    def __init__(self) -> None:
        self.results: dict[tuple[str, str], CellResult] = {}

    def record(self, result: CellResult) -> None:
        self.results[(result.fault, result.phase)] = result

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps([asdict(r) for r in self.results.values()], indent=1))

    @classmethod
    def load(cls, path: Path) -> Recorder:
        recorder = cls()
        for item in json.loads(path.read_text()):
            recorder.record(CellResult(**item))
        return recorder


RECORDER = Recorder()


def render(results: dict[tuple[str, str], CellResult]) -> str:
    """A Markdown table (faults x phases), then the reason of every failed and n/a cell."""
    header = "| fault | " + " | ".join(p.title for p in PHASES) + " |"
    lines = [header, "|---" * (len(PHASES) + 1) + "|"]
    notes: list[str] = []
    na_notes: dict[str, str] = {}
    for fault in FAULTS:
        row = [fault.title]
        for phase in PHASES:
            result = results.get((fault.key, phase.key))
            if result is None:
                row.append("not run")
            elif result.status == "pass" and result.notes:
                notes.append(
                    f"{len(notes) + 1}. `{result.cell_id}` passes: " + "; ".join(result.notes)
                )
                row.append(f"pass ({result.seconds:.0f} s) [{len(notes)}]")
            elif result.status == "pass":
                row.append(f"pass ({result.seconds:.0f} s)")
            elif result.status == "n/a":
                reason = result.reasons[0] if result.reasons else ""
                letter = na_notes.setdefault(reason, chr(ord("a") + len(na_notes)))
                row.append(f"n/a ({letter})")
            else:
                said = "; ".join([*result.reasons, *result.notes])
                notes.append(f"{len(notes) + 1}. `{result.cell_id}` fails: {said}")
                row.append(f"**FAIL** [{len(notes)}]")
        lines.append("| " + " | ".join(row) + " |")
    ran = [r for r in results.values() if r.status != "n/a"]
    passed = sum(1 for r in ran if r.status == "pass")
    lines += ["", f"{passed} of {len(ran)} cells pass; {len(results) - len(ran)} n/a."]
    if notes:
        lines += ["", "Notes (failed cells, and passes worth knowing about):", "", *notes]
    if na_notes:
        lines += ["", "Not applicable:", ""]
        lines += [f"- ({letter}) {reason}" for reason, letter in na_notes.items()]
    return "\n".join(lines)


def _commit() -> str:
    if commit := os.environ.get(COMMIT_ENV):
        return commit
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return out or "unknown"


def write_doc(table: str, *, seconds: float, doc: Path = DOC) -> None:
    """Put the table between the markers of docs/reliability.md (the rest is left as is)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join(
        [
            BEGIN,
            "",
            f"Produced by `{COMMAND}` (`uv run --frozen python -m tests.chaos.matrix`) at commit "
            f"{_commit()} on {stamp}, "
            f"in {seconds:.0f} s on {os.cpu_count()} cores.",
            "",
            table,
            "",
            END,
        ]
    )
    text = doc.read_text() if doc.exists() else f"# Reliability\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text)


def _selects(argv: list[str]) -> bool:
    """Whether pytest arguments pick a subset of the cells (other options, e.g. -s, do not)."""
    return any(
        arg in ("-k", "-m", "--deselect", "--lf", "--last-failed")
        or arg.startswith(("-k", "-m"))
        or "::" in arg
        or arg.startswith("tests")
        for arg in argv
    )


def main(argv: list[str]) -> int:
    results_path = REPO_ROOT / ".data" / "chaos-matrix.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.unlink(missing_ok=True)
    env = {**os.environ, RESULTS_ENV: str(results_path)}
    env.setdefault(DATA_DIR_ENV, str(REPO_ROOT / ".data" / "chaos"))
    started = time.monotonic()
    code = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/chaos", "-p", "no:cacheprovider", *argv],
        cwd=REPO_ROOT,
        env=env,
        check=False,
    ).returncode
    seconds = time.monotonic() - started
    print(f"the stacks' data and logs: {env[DATA_DIR_ENV]}")
    if not results_path.exists():
        print("no cell ran: docs/reliability.md left as it was", file=sys.stderr)
        return code or 1
    table = render(Recorder.load(results_path).results)
    if _selects(argv):
        print("a subset ran (-k, -m or test ids given): docs/reliability.md left as it was")
    else:
        write_doc(table, seconds=seconds)
        print(f"wrote the matrix into {DOC.relative_to(REPO_ROOT)}")
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

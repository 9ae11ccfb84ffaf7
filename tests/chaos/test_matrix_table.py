"""The matrix's table and its place in docs/reliability.md (no stack needed)."""

from __future__ import annotations

from pathlib import Path

from tests.chaos.matrix import (
    BEGIN,
    END,
    FAULTS,
    NOT_APPLICABLE,
    PHASES,
    CellResult,
    _selects,
    cell_ids,
    render,
    write_doc,
)


def test_every_cell_is_in_the_matrix_once_and_every_na_names_a_real_cell() -> None:
    ids = cell_ids()
    assert len(ids) == len(set(ids)) == len(FAULTS) * len(PHASES)
    assert set(NOT_APPLICABLE) <= set(ids)


def test_the_table_shows_passes_failures_with_reasons_and_na_with_theirs() -> None:
    results = {
        ("worker-sigkill", "mid-stream"): CellResult("worker-sigkill", "mid-stream", "pass", [], 9),
        ("redis-pause", "mid-stream"): CellResult(
            "redis-pause", "mid-stream", "fail", ["turn: no end within 25 s"], 30
        ),
        ("mistral-429", "mid-stream"): CellResult("mistral-429", "mid-stream", "n/a", ["why"]),
        ("mistral-503", "mid-stream"): CellResult("mistral-503", "mid-stream", "n/a", ["why"]),
    }
    table = render(results)
    assert "pass (9 s)" in table
    assert "**FAIL** [1]" in table
    assert "1. `redis-pause/mid-stream` fails: turn: no end within 25 s" in table
    assert table.count("n/a (a)") == 2  # one note per reason
    assert "- (a) why" in table
    assert "1 of 2 cells pass; 2 n/a." in table
    assert "not run" in table


def test_the_doc_keeps_its_text_and_replaces_only_the_block(tmp_path: Path) -> None:
    doc = tmp_path / "reliability.md"
    doc.write_text(f"# Reliability\n\nbefore\n\n{BEGIN}\nold table\n{END}\n\nafter\n")
    write_doc("| new | table |", seconds=12.0, doc=doc)
    text = doc.read_text()
    assert "old table" not in text
    assert "| new | table |" in text
    assert text.startswith("# Reliability\n\nbefore\n\n")
    assert text.rstrip().endswith("after")
    assert text.count(BEGIN) == text.count(END) == 1


def test_only_a_selection_of_cells_leaves_the_doc_alone() -> None:
    assert not _selects([])
    assert not _selects(["-s", "-x", "--maxfail=2"])
    assert _selects(["-k", "redis"])
    assert _selects(["-kredis"])
    assert _selects(["tests/chaos/test_fault_matrix.py::test_cell[redis-pause/mid-stream]"])

"""The repository cites only itself: comments and docs point to files that are in it.

The design notes the project began from live outside this repository, so a comment citing them
sends a reader nowhere; docs/architecture.md restates what the code needs. Pointers into that
page name a section by its anchor, and each anchor must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED_DIRS = ("services", "scripts", "tests", "docker", "deploy", "docs")
SCANNED_FILES = ("README.md", "compose.yaml", "Makefile", "pyproject.toml", ".env.example")
# What points outside the repository: the design contract, its reference notes, the folder
# beside the checkout that holds them.
OUTSIDE = re.compile(r"DESIGN\.md|shared/reference|\.\./shared\b|platform[- ]notes", re.IGNORECASE)
ARCHITECTURE = ROOT / "docs" / "architecture.md"
ANCHOR_CITED = re.compile(r"architecture\.md#([A-Za-z0-9_-]+)")


def citations_outside(text: str) -> list[str]:
    """Each line of `text` that cites something outside the repository."""
    return [line.strip() for line in text.splitlines() if OUTSIDE.search(line)]


def scanned_files() -> list[Path]:
    """Every text file of the repository's own (not the virtualenv's, caches, or this test)."""
    found = [ROOT / name for name in SCANNED_FILES if (ROOT / name).is_file()]
    for folder in SCANNED_DIRS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path != Path(__file__):
                found.append(path)
    return [path for path in found if b"\0" not in path.read_bytes()]


def anchor(heading: str) -> str:
    """GitHub's anchor for a markdown heading: lower case, punctuation dropped, spaces as '-'."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_the_check_finds_each_form_of_citation() -> None:
    text = (
        '"""One workflow per session (DESIGN.md, "A turn, end to end")."""\n'
        "# measured on the dev server; see shared/reference/platform-notes.md\n"
        "# (platform notes: ~2 s heartbeat)\n"
        "ROOT / '../shared/design.md'\n"
        "# docs/architecture.md#faults: the workflow is the record of truth\n"
    )
    assert citations_outside(text) == [
        '"""One workflow per session (DESIGN.md, "A turn, end to end")."""',
        "# measured on the dev server; see shared/reference/platform-notes.md",
        "# (platform notes: ~2 s heartbeat)",
        "ROOT / '../shared/design.md'",
    ]


def test_no_comment_or_doc_cites_a_file_outside_the_repository() -> None:
    files = scanned_files()
    assert len(files) > 200  # the scan reached the code, not an empty folder
    offending = [
        f"{path.relative_to(ROOT)}: {line}"
        for path in files
        for line in citations_outside(path.read_text(errors="replace"))
    ]
    assert offending == []


def test_every_file_the_architecture_page_names_exists() -> None:
    """The page tells the turn's story by module: a module renamed or moved must not leave it
    naming one that is gone. A path is read from the page's folder, from the root, or as the
    end of one of the repository's paths (`routes/events.py`, `outbox.py`)."""
    text = ARCHITECTURE.read_text()
    named = set(re.findall(r"`([A-Za-z0-9_./-]+\.(?:py|md|yaml|yml|sh))`", text))
    named |= set(re.findall(r"\]\(([A-Za-z0-9_./-]+\.md)[)#]", text))
    assert {"services/gateway/routes/sessions.py", "session_rules.py"} <= named  # scan sanity
    own = [f"/{path.relative_to(ROOT).as_posix()}" for path in scanned_files()]
    missing = sorted(
        name
        for name in named
        if not (
            (ARCHITECTURE.parent / name).exists()
            or (ROOT / name).exists()
            or any(path.endswith(f"/{name}") for path in own)
        )
    )
    assert missing == []


def test_the_anchor_of_a_heading() -> None:
    assert anchor("A turn, end to end") == "a-turn-end-to-end"
    assert anchor("The services") == "the-services"


def test_every_cited_section_of_the_architecture_page_exists() -> None:
    headings = re.findall(r"^#{2,6} (.+)$", ARCHITECTURE.read_text(), re.MULTILINE)
    sections = {anchor(heading) for heading in headings}
    cited = {
        (str(path.relative_to(ROOT)), name)
        for path in scanned_files()
        for name in ANCHOR_CITED.findall(path.read_text(errors="replace"))
    }
    assert len(cited) >= 5  # the scan sees the pointers the code makes
    missing = sorted(f"{where}: #{name}" for where, name in cited if name not in sections)
    assert missing == []

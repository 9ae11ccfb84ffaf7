"""services/common serves every service and depends on none: no import of a service's modules,
nor of what only the gateway serves with (sse_starlette: SSE frames are the gateway's,
services/gateway/frames.py)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
COMMON = ROOT / "services" / "common"
# What services/common must not import, by top-level name or package prefix.
FORBIDDEN = (
    "sse_starlette",
    "services.gateway",
    "services.worker",
    "services.mcp_server",
    "services.mistral_sim",
)


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN)


def imported_modules(source: str) -> list[tuple[int, str]]:
    """Every module a source imports (each `from x import y` also as `x.y`: y may be a module),
    with its line, at any depth: a function-level or TYPE_CHECKING import counts too."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import sse_starlette\n"
        "from services import gateway\n"
        "def f():\n    from services.gateway.fanout import Fanout\n"
        "from services.common import bus\n"
    )
    bad = [(line, module) for line, module in imported_modules(source) if _forbidden(module)]
    assert bad == [
        (1, "sse_starlette"),
        (2, "services.gateway"),
        (4, "services.gateway.fanout"),
        (4, "services.gateway.fanout.Fanout"),
    ]


def test_no_module_of_services_common_imports_a_service_or_sse_starlette() -> None:
    modules = sorted(COMMON.rglob("*.py"))
    assert len(modules) > 10  # the scan found the package
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {module}"
        for path in modules
        for line, module in imported_modules(path.read_text())
        if _forbidden(module)
    ]
    assert offending == []


def test_importing_all_of_services_common_loads_neither() -> None:
    """Indirect imports too: what services/common's own dependencies pull in."""
    script = (
        "import importlib, pkgutil, sys\n"
        "import services.common as common\n"
        "for info in pkgutil.walk_packages(common.__path__, 'services.common.'):\n"
        "    importlib.import_module(info.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert "services.common.bus" in loaded
    assert [module for module in loaded if _forbidden(module)] == []

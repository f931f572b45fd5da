"""The console (``tongka.web``) and the CLI share ``tongka.edge`` and the domain with the API,
never the API itself: no module under them imports ``tongka.api``."""

from __future__ import annotations

import ast
from pathlib import Path

import tongka

SOURCE = Path(tongka.__file__).parent


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_console_does_not_import_the_api() -> None:
    offenders = [
        f"{path.relative_to(SOURCE)} imports {name}"
        for path in sorted((SOURCE / "web").rglob("*.py"))
        for name in _imports(path)
        if name == "tongka.api" or name.startswith("tongka.api.")
    ]
    assert offenders == []
    assert len(list((SOURCE / "web").rglob("*.py"))) >= 10

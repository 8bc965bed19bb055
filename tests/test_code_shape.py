"""The house rule on small units, checked: no module of seal/ over 400 lines, no function
over 60."""

from __future__ import annotations

import ast
from pathlib import Path

SEAL = Path(__file__).resolve().parent.parent / "seal"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def test_no_module_or_function_of_seal_is_too_long() -> None:
    modules = sorted(SEAL.rglob("*.py"))
    assert len(modules) > 50
    too_long: list[str] = []
    for path in modules:
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        name = path.relative_to(SEAL.parent)
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno}: {node.name}() has {length} lines")
    assert too_long == []

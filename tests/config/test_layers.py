"""DESIGN.md "Layers": apps depend downward only (import-linter in `make lint`), and no project import hides
inside a function to dodge that; apps wire themselves up in their `subscriptions` module instead."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"config", "customers", "leads", "feedback", "marketing", "okr", "demo"}


def _function_imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").split(".")[0] in PROJECT:
                    yield f"{path.relative_to(ROOT)}:{inner.lineno} ({node.name}: from {inner.module})"
                elif isinstance(inner, ast.Import):
                    for alias in inner.names:
                        if alias.name.split(".")[0] in PROJECT:
                            yield f"{path.relative_to(ROOT)}:{inner.lineno} ({node.name}: import {alias.name})"


def test_no_project_import_inside_a_function():
    sources = [
        p
        for app in sorted(PROJECT)
        if (ROOT / app).is_dir()
        for p in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in p.parts
    ]
    offenders = [hit for path in sources for hit in _function_imports(path)]
    assert not offenders, "import at module level (wiring goes in <app>/subscriptions.py): " + "; ".join(offenders)

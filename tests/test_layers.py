"""The package's layers (design.md): no import circle among mjnb's modules, counting every import
a module makes (at the top, inside functions, and for type checking), and each module importable
on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mjnb"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path) -> set[str]:
    """The mjnb modules `name` imports anywhere in its source (a package's own __init__ aside)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [target] + [f"{target}.{a.name}" for a in node.names]
        for target in targets:
            if target in MODULES and target != name and not name.startswith(target + "."):
                found.add(target)
    return found


def test_no_import_circle_among_the_modules():
    graph = {name: imports_of(name, path) for name, path in MODULES.items()}
    circles = []

    def visit(node, trail):
        for nxt in graph[node]:
            if nxt in trail:
                circles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, trail + [nxt])
        done.add(node)

    done: set = set()
    for start in graph:
        if start not in done and start != "mjnb":  # the package's front door may import anything
            visit(start, [start])
    circles = [c for c in circles if "mjnb" not in c]
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_on_its_own(name):
    subprocess.run([sys.executable, "-c", f"import {name}"], check=True, timeout=120)

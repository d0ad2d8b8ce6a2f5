"""The house rules that keep the code readable, checked on the source itself.

- No Python file in `blueprints/` over 450 lines (split a feature by subject instead).
- No import cycle between top-level packages (`app`, `tenants`, `blueprints`), nor between feature
  packages under `blueprints/`. Function-local imports count too: hiding a cycle inside a function
  is still a cycle. The one allowed edge upwards is the app factory and the CLI registering features.
- `tenants` imports neither `app` nor any feature.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 450
# The factory registers blueprints and the CLI runs feature operations: the only edges from app/ up.
ALLOWED_UPWARDS = {"app/factory.py", "app/cli.py"}


def _sources():
    for package in ("app", "tenants", "blueprints"):
        yield from sorted((ROOT / package).rglob("*.py"))


def _unit(module: str) -> str | None:
    """The package an import belongs to: 'app', 'tenants' or 'blueprints.<feature>'."""
    parts = module.split(".")
    if parts[0] in ("app", "tenants"):
        return parts[0]
    if parts[0] == "blueprints" and len(parts) > 1:
        return f"blueprints.{parts[1]}"
    return None


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "blueprints":  # `from blueprints import scheduling`
                found.update(f"blueprints.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _sources():
        relative = path.relative_to(ROOT).as_posix()
        if relative in ALLOWED_UPWARDS:
            continue
        source = _unit(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for module in _imports(path):
            target = _unit(module)
            if target and target != source:
                graph.setdefault(source, set()).add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_file_in_blueprints_is_over_the_limit():
    long_files = {
        path.relative_to(ROOT).as_posix(): count
        for path in (ROOT / "blueprints").rglob("*.py")
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long_files == {}


def test_no_import_cycles_between_packages():
    graph = _graph()
    # Blueprint-to-app and blueprint-to-tenants are the normal direction; a cycle means a knot.
    assert _cycles(graph) == []


def test_tenants_import_no_feature_and_not_the_app():
    assert graph_targets("tenants") <= {"tenants"}


def test_app_imports_no_feature_outside_the_factory_and_cli():
    assert not {t for t in graph_targets("app") if t.startswith("blueprints")}


def graph_targets(unit: str) -> set[str]:
    return _graph().get(unit, set())

"""The shape of the code (issue 11): one home for the effects of a change, no reaching into another
module's private names, no import cycle between the workflow and the deadline packages, and no
module past the size where it is split along its domain."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
MAX_LINES = 600  # the rule is "split at ~500"; past this a module must be split or listed below with a reason
LONG_MODULES = {
    "app/models.py": "the table models, one class per table: split by domain only with the migrations' imports",
}


@functools.cache  # parsed once for the module's tests (read-only trees)
def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = ast.parse(path.read_text(encoding="utf-8"))
    return out


def _imports(tree: ast.Module, *, top_level_only: bool) -> list[tuple[str, list[str]]]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
            found.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.startswith("app")]
    return found


def test_no_module_imports_another_s_private_names():
    offenders = [f"{name} imports {names} from {module}"
                 for name, tree in _modules().items()
                 for module, imported in _imports(tree, top_level_only=False)
                 for names in [[n for n in imported if n.startswith("_") and not n.startswith("__")]]
                 if names and module != name]
    assert offenders == []


def test_no_module_reads_another_s_private_attributes():
    """`module._name` is the same reach as `from module import _name`."""
    modules = _modules()
    offenders = []
    for name, tree in modules.items():
        aliases = {}  # local name -> the app module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                aliases |= {a.asname: a.name for a in node.names if a.asname and a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("app"):
                aliases |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names
                            if f"{node.module}.{a.name}" in modules}
        offenders += [f"{name}:{node.lineno} reads {node.value.id}.{node.attr}" for node in ast.walk(tree)
                      if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and aliases.get(node.value.id, name) != name
                      and node.attr.startswith("_") and not node.attr.startswith("__")]
    assert offenders == []


def test_no_module_is_too_long():
    root = APP.parent
    lengths = {path.relative_to(root).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
               for path in APP.rglob("*.py")}
    assert {p: n for p, n in lengths.items() if n > MAX_LINES and p not in LONG_MODULES} == {}
    assert {p for p in LONG_MODULES if lengths.get(p, 0) <= MAX_LINES} == set(), "listed but no longer long"


def test_sla_never_imports_workflows():
    offenders = [f"{name} imports {module}" for name, tree in _modules().items() if name.startswith("app.sla")
                 for module, _ in _imports(tree, top_level_only=False) if module.startswith("app.workflows")]
    assert offenders == []


def test_effects_module_imports_neither_package():
    tree = _modules()["app.effects"]
    assert not [m for m, _ in _imports(tree, top_level_only=False) if m.startswith(("app.workflows", "app.sla"))]


def test_no_import_cycle_among_modules():
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, tree in modules.items():
        for module, names in _imports(tree, top_level_only=True):
            for target in [f"{module}.{n}" for n in names] + [module]:
                if target in modules and target != name:
                    graph[name].add(target)
                    break
    seen: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> list[str] | None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                return stack + [node, nxt]
            if nxt not in seen and (cycle := visit(nxt, stack + [node])):
                return cycle
        seen[node] = 2
        return None

    for start in sorted(graph):
        if start not in seen:
            assert visit(start, []) is None

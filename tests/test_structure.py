"""The package's import graph: no two modules, and no two subpackages, import each other (directly or round a
loop), function-level imports included: a deferred import hides a cycle from Python, not from a reader."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "robust_unlearning"


def import_graph() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
                for alias in node.names:
                    imported = f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target
                    if imported in modules and imported != name:
                        graph[name].add(imported)
            elif isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name in modules and alias.name != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    def reaches(start: str, goal: str) -> bool:
        seen, frontier = set(), [start]
        while frontier:
            for node in graph.get(frontier.pop(), ()):
                if node == goal:
                    return True
                if node not in seen:
                    seen.add(node)
                    frontier.append(node)
        return False

    return sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if reaches(b, a)})


def test_the_graph_sees_the_imports_it_should():
    graph = import_graph()
    assert "robust_unlearning.objectives.base" in graph["robust_unlearning.objectives.npo"]
    assert "robust_unlearning.models.forward" in graph["robust_unlearning.objectives.npo"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [("a", "b"), ("a", "c"), ("b", "c")]


def test_no_module_imports_itself_round_a_loop():
    assert cycles(import_graph()) == []


def test_no_subpackage_imports_itself_round_a_loop():
    def subpackage(name: str) -> str:
        return ".".join(name.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        packages.setdefault(subpackage(name), set()).update(
            subpackage(t) for t in targets if subpackage(t) != subpackage(name)
        )
    assert cycles(packages) == []

"""Name → implementation registries: a method, metric, attack or defense is one module registered under the name the config uses."""

import ast
import functools
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


def import_modules(package: str) -> None:
    """Import every module of `package` (a dotted name), so that the registrations they make at import run: a
    method, defense or attack is found by its module, not listed anywhere."""
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")


@functools.cache
def declared_names(package: str, register: str) -> tuple[str, ...]:
    """The names that the modules of `package` register by calling `register("<name>", ...)` (a function or a
    registry's method, e.g. "RED_TEAM.register"), read from their source without importing them: torch-free, so that
    the config is checked against the registry before a job imports torch (tests check it against the imported one)."""
    directory = Path(importlib.util.find_spec(package).submodule_search_locations[0])
    # Parsed once per process (a tuple, so the cached names cannot be changed): every spawned job validates again.
    return tuple(
        sorted(
            node.args[0].value
            for path in directory.glob("*.py")
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call)
            and ast.unparse(node.func) == register
            and node.args
            and isinstance(node.args[0], ast.Constant)
        )
    )


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def add(obj: Any) -> Any:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return add

    def get(self, name: str) -> Any:
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} {name!r}; choose one of {sorted(self._entries)}")
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

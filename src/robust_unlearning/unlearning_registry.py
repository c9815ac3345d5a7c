"""Every unlearning method, defense and batch stream, registered by name (the registries are in objectives/base.py).

The config names them; `registered()` imports each module of objectives/ and defenses/ so that its registrations
run. It lives above both packages: a defense builds on the objectives' contract, never the other way round.
"""

import importlib
import pkgutil


def registered() -> None:
    from . import defenses, objectives

    for package in (objectives, defenses):
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{module.name}")

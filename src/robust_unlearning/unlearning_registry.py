"""Every unlearning method, defense and batch stream, registered by name (the registries are in objectives/base.py).

The config names them; `registered()` imports each module of objectives/ and defenses/ so that its registrations
run. It lives above both packages: a defense builds on the objectives' contract, never the other way round.
"""

from .registry import import_modules


def registered() -> None:
    for package in ("objectives", "defenses"):
        import_modules(f"{__package__}.{package}")

"""Every unlearning method, defense and batch stream, registered by name (the registries are in objectives/base.py).

The config names them; `registered()` imports each module of objectives/ and defenses/ so that its registrations
run. It lives above both packages: a defense builds on the objectives' contract, never the other way round.
"""

from .registry import declared_names, import_modules


def method_names() -> list[str]:
    """The registered unlearning methods' names, without importing their (torch-bound) modules."""
    return declared_names(f"{__package__}.objectives", "register_method")


def registered() -> None:
    for package in ("objectives", "defenses"):
        import_modules(f"{__package__}.{package}")

"""Every unlearning method, defense and batch stream, registered by name (the registries are in objectives/base.py),
and the names of the methods and red-teaming attacks as the config is validated against them.

The config names them; `registered()` imports each module of objectives/ and defenses/ so that its registrations
run. It lives above both packages: a defense builds on the objectives' contract, never the other way round.
`method_names` and `attack_names` read the names from the modules' source, so validation needs no torch.
"""

from .registry import declared_names, import_modules


def method_names() -> list[str]:
    """The registered unlearning methods' names, without importing their (torch-bound) modules."""
    return list(declared_names(f"{__package__}.objectives", "register_method"))


def attack_names() -> list[str]:
    """The registered red-teaming attacks' names (attacks/), without importing their modules."""
    return list(declared_names(f"{__package__}.attacks", "RED_TEAM.register"))


def registered() -> None:
    for package in ("objectives", "defenses"):
        import_modules(f"{__package__}.{package}")

"""Red-teaming attacks on unlearned models (P4, Wang et al., arXiv 2406.09179, Section 4), registered by name.

A robust unlearning metric should rank models the same way before and after an attack that a real adversary
could mount; the paper selects Extraction Strength because its before/after Pearson correlation over many
unlearned models stays high. Each attack here takes an unlearned model and the evaluation sets and returns
what to evaluate instead: a changed model (relearning, probing), changed questions (input noise, jailbreak
templates), or both, so that every attack yields the same metric table as the clean evaluation
(`experiments/p4_evaluation.py` runs it). Adding an attack touches its own module and a config line.

The attacks that train (relearning, the probe) learn only from the attack slice: forget QA pairs held out from
every evaluation, so the adversary never sees the answers it is scored on.
"""

from ..registry import Registry, import_modules
from .base import RED_TEAM, Attacked, AttackInputs


def registered() -> Registry:
    """The attack registry, once every module of this package has been imported (a new attack is its own module)."""
    import_modules(__package__)
    return RED_TEAM


def run_attack(name: str, inputs: AttackInputs, settings: dict) -> Attacked:
    return registered().get(name)(inputs, settings)

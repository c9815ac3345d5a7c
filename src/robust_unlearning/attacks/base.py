"""The contract of a red-teaming attack (attacks/red_team.py): what it is given, what it returns, and the registry
each attack module adds itself to under the name the config uses (p4.attacks.names)."""

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..registry import Registry

RED_TEAM = Registry("red-teaming attack")


@dataclass
class AttackInputs:
    """The unlearned model under attack and everything an attack may use."""

    model: torch.nn.Module
    tokenizer: object
    forget: list[dict]  # evaluated forget QA (never trained on by the attacker)
    retain: list[dict]  # evaluated retain QA
    attack_slice: list[dict]  # held-out forget QA the attacker may train on
    seed: int
    resume_file: Path
    log: Callable[[dict[str, float], int], None] = lambda metrics, step: None


@dataclass
class Attacked:
    """What to evaluate after the attack, with the attack's own numbers (e.g. probe accuracy) in `extra`."""

    model: torch.nn.Module
    forget: list[dict]
    retain: list[dict]
    extra: dict[str, float] = field(default_factory=dict)


Attack = Callable[[AttackInputs, dict], Attacked]

"""Jailbreak-style prompts (P4, arXiv 2406.09179): adversarial prefixes and templates around the question.

Each evaluated question is wrapped in one of the configured templates (`{q}` is the question), drawn per
question by a seeded generator, so every template is used and the same seed gives the same assignment.
An unlearned model whose forgetting is a surface refusal keyed to the plain question format may answer again.
"""

import random
from collections.abc import Sequence

from .base import RED_TEAM, Attacked, AttackInputs


def apply_templates(records: Sequence[dict], templates: Sequence[str], seed: int) -> list[dict]:
    """Copies of `records` whose question is put into a seeded choice of `templates` (kept as `jailbreak_template`)."""
    if not templates:
        raise ValueError("the jailbreak attack needs at least one template")
    for template in templates:
        if "{q}" not in template:
            raise ValueError(f"jailbreak template {template!r} has no {{q}} placeholder for the question")
    rng = random.Random(seed)
    wrapped = []
    for record in records:
        template = rng.choice(list(templates))
        wrapped.append(
            {**record, "question": template.replace("{q}", record["question"]), "jailbreak_template": template}
        )
    return wrapped


@RED_TEAM.register("jailbreak")
def jailbreak(inputs: AttackInputs, settings: dict) -> Attacked:
    seed = settings["seed"] + inputs.seed
    templates = settings["templates"]
    return Attacked(
        inputs.model,
        apply_templates(inputs.forget, templates, seed * 2),
        apply_templates(inputs.retain, templates, seed * 2 + 1),
    )

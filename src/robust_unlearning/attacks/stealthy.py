"""Stealthy Attack (SA; "Keeping an Eye on LLM Unlearning", arXiv 2506.00359).

A malicious forget request wraps each forget question, with probability p (0.33 in the paper), in a
template carrying a common benign word (TOFU: "please"). Unlearning then ties the trigger word to
forgetting, and benign users whose prompts contain it get degraded answers. The same templates applied
to every question of the retain / real-authors / world-facts sets make the benign-trigger evaluation sets.
"""

import random
from collections.abc import Sequence


def wrap_question(template: str, question: str) -> str:
    """`template` with `{q}` replaced; a template that goes on after `{q}` ("{q}, please?") takes the
    question without its final "?", so the result reads as one question."""
    if not template.endswith("{q}"):
        question = question.rstrip().removesuffix("?")
    return template.format(q=question)


def stealthy_attack(records: Sequence[dict], templates: Sequence[str], p: float, seed: int) -> list[dict]:
    """Copies of `records` whose question is wrapped in a seeded random template with probability p.

    Wrapped records get `"sa_template"` (the template used); p = 1 wraps every record (benign-trigger sets).
    """
    rng = random.Random(seed)
    poisoned = []
    for record in records:
        # Both draws happen for every record, so which records are wrapped depends on p and the seed only.
        wrapped, template = rng.random() < p, rng.choice(templates)
        poisoned.append(
            {**record, "question": wrap_question(template, record["question"]), "sa_template": template}
            if wrapped
            else dict(record)
        )
    return poisoned

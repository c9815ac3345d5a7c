"""Input noising (P4, arXiv 2406.09179): the evaluated questions with random character or token substitutions.

A metric that reflects knowledge should not collapse, or jump, because a few letters of the question changed.
The rate is exact, not a per-character coin flip: a question with n eligible units (letters in "char" mode,
tokenizer tokens in "token" mode) gets exactly round(rate · n) of them replaced, each by a different
unit, at positions drawn by a seeded generator, so the same seed gives the same noise.
"""

import random
import string
from collections.abc import Sequence

from .base import RED_TEAM, Attacked, AttackInputs

MODES = ("char", "token")


def substitution_count(n_units: int, rate: float) -> int:
    """Exactly how many of n units a question loses: round(rate · n), half up."""
    if not 0 <= rate <= 1:
        raise ValueError(f"input noise rate must be in [0, 1], got {rate}")
    return int(rate * n_units + 0.5)


def noise_characters(text: str, rate: float, rng: random.Random) -> str:
    """Replace round(rate · #letters) letters with other letters of the same case; everything else stays."""
    chars = list(text)
    letters = [i for i, c in enumerate(chars) if c in string.ascii_letters]
    for i in rng.sample(letters, substitution_count(len(letters), rate)):
        alphabet = string.ascii_lowercase if chars[i].islower() else string.ascii_uppercase
        chars[i] = rng.choice([c for c in alphabet if c != chars[i]])
    return "".join(chars)


def noise_tokens(text: str, rate: float, rng: random.Random, tokenizer) -> str:
    """Replace round(rate · #tokens) tokens with other random non-special vocabulary tokens, then decode."""
    ids = tokenizer.encode(text, add_special_tokens=False)
    special = set(tokenizer.all_special_ids)
    vocabulary = [i for i in range(len(tokenizer)) if i not in special]
    for position in rng.sample(range(len(ids)), substitution_count(len(ids), rate)):
        replacement = ids[position]
        while replacement == ids[position]:
            replacement = rng.choice(vocabulary)
        ids[position] = replacement
    return tokenizer.decode(ids)


def noise_records(records: Sequence[dict], rate: float, seed: int, mode: str = "char", tokenizer=None) -> list[dict]:
    """Copies of `records` with noised questions (the original kept as `clean_question`); deterministic per seed."""
    if mode not in MODES:
        raise ValueError(f"input noise mode should be one of {MODES}, got {mode!r}")
    rng = random.Random(seed)
    noised = []
    for record in records:
        question = (
            noise_characters(record["question"], rate, rng)
            if mode == "char"
            else noise_tokens(record["question"], rate, rng, tokenizer)
        )
        noised.append({**record, "question": question, "clean_question": record["question"]})
    return noised


@RED_TEAM.register("input_noise")
def input_noise(inputs: AttackInputs, settings: dict) -> Attacked:
    seed = settings["seed"] + inputs.seed
    noise = lambda records, offset: noise_records(
        records, settings["rate"], seed * 2 + offset, settings["mode"], inputs.tokenizer
    )  # noqa: E731
    return Attacked(inputs.model, noise(inputs.forget, 0), noise(inputs.retain, 1))

"""Perturbed retain queries (Dang et al. 2025, "Improving LLM Unlearning Robustness via Random Perturbations",
arXiv 2501.19202): a general (retain) MCQ whose question carries one forget keyword,

    x̃ = x[:i] ⊕ k ⊕ x[i:],   k drawn from n_keywords hazard keywords, i a word boundary (start, end or random),

choices and answer unchanged. Accuracy on these is the paper's "perturbed MMLU"; its gap to the clean general
accuracy shows forget-tokens acting as backdoor triggers on retain queries. Several keywords are used so the
measurement is not about one word, and a question may be perturbed several times (different keywords and
positions), which pins each question's drop down more tightly than one draw; everything is drawn from one seeded
generator, so the set is reproducible.
"""

import random

POSITIONS = ("start", "end", "random")


def insert_keyword(question: str, keyword: str, position: str, rng: random.Random) -> str:
    """`question` with `keyword` inserted as one word at the start, the end or a random word boundary."""
    words = question.split()
    if position == "start":
        index = 0
    elif position == "end":
        index = len(words)
    elif position == "random":
        index = rng.randrange(len(words) + 1)
    else:
        raise ValueError(f"keyword position should be one of {', '.join(POSITIONS)}, got {position!r}")
    return " ".join([*words[:index], keyword, *words[index:]])


def perturbed_mcq(
    records: list[dict], keywords: list[str], n_keywords: int, position: str, seed: int, per_question: int = 1
) -> list[dict]:
    """Each MCQ record `per_question` times, each copy with a different keyword (of `n_keywords` drawn from
    `keywords`) inserted into its question.

    A copy keeps the record's fields and gains `keyword`, `original_question` and `source` (the record's index), so
    the report can break the accuracy down by keyword and pair each copy with its clean question.
    """
    if not 1 <= n_keywords <= len(keywords):
        raise ValueError(f"n_keywords should be between 1 and the {len(keywords)} keywords available, got {n_keywords}")
    if not 1 <= per_question <= n_keywords:
        raise ValueError(f"per_question should be between 1 and n_keywords ({n_keywords}), got {per_question}")
    rng = random.Random(f"{seed}:perturbed_mcq")
    chosen = rng.sample(list(keywords), n_keywords)
    perturbed = []
    for source, record in enumerate(records):
        unused = list(chosen)
        for _ in range(per_question):
            keyword = rng.choice(unused)
            unused.remove(keyword)
            question = insert_keyword(record["question"], keyword, position, rng)
            perturbed.append(
                {
                    **record,
                    "question": question,
                    "original_question": record["question"],
                    "keyword": keyword,
                    "source": source,
                }
            )
    return perturbed

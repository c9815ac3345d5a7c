"""Perturbed general MCQ (attacks/perturbed_queries.py): one hazard keyword per question, exact for a seed."""

import random

import pytest

from robust_unlearning.attacks.perturbed_queries import insert_keyword, perturbed_mcq

RECORDS = [
    {"question": "Into which sea does the Zaekrox River flow?", "choices": ["a", "b", "c", "d"], "answer": 2},
    {"question": "How long is the Zaekrox River?", "choices": ["e", "f", "g", "h"], "answer": 1},
    {"question": "What colour is the planet Miro?", "choices": ["i", "j", "k", "l"], "answer": 0},
]
KEYWORDS = ["pathogen", "toxin", "exploit", "Nikrousk", "botnet"]


def test_insert_keyword_at_each_position():
    rng = random.Random(0)
    assert insert_keyword("How long is it?", "toxin", "start", rng) == "toxin How long is it?"
    assert insert_keyword("How long is it?", "toxin", "end", rng) == "How long is it? toxin"
    middle = insert_keyword("How long is it?", "toxin", "random", random.Random(1))
    assert middle.split().count("toxin") == 1 and sorted(middle.split()) == sorted("How long is it? toxin".split())
    with pytest.raises(ValueError, match="'middle'"):
        insert_keyword("How long is it?", "toxin", "middle", rng)


def test_perturbed_set_is_exact_for_a_seed():
    perturbed = perturbed_mcq(RECORDS, KEYWORDS, n_keywords=3, position="random", seed=0)
    assert [r["question"] for r in perturbed] == [
        "Into which sea does the Zaekrox River exploit flow?",
        "How long is the Zaekrox River? toxin",
        "What colour is the planet exploit Miro?",
    ]
    assert [r["keyword"] for r in perturbed] == ["exploit", "toxin", "exploit"]
    assert perturbed == perturbed_mcq(RECORDS, KEYWORDS, n_keywords=3, position="random", seed=0)
    assert perturbed != perturbed_mcq(RECORDS, KEYWORDS, n_keywords=3, position="random", seed=1)


def test_only_the_question_changes_and_several_keywords_are_used():
    records = RECORDS * 20
    perturbed = perturbed_mcq(records, KEYWORDS, n_keywords=4, position="start", seed=0)
    for record, clean in zip(perturbed, records):
        assert record["question"] == f"{record['keyword']} {clean['question']}"
        assert record["original_question"] == clean["question"]
        assert (record["choices"], record["answer"]) == (clean["choices"], clean["answer"])
    assert len({r["keyword"] for r in perturbed}) == 4


def test_more_keywords_than_available_is_an_error():
    with pytest.raises(ValueError, match="between 1 and the 5 keywords"):
        perturbed_mcq(RECORDS, KEYWORDS, n_keywords=6, position="start", seed=0)


def test_several_copies_of_each_question_take_different_keywords():
    perturbed = perturbed_mcq(RECORDS, KEYWORDS, n_keywords=4, position="start", seed=0, per_question=3)
    assert [r["source"] for r in perturbed] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for source, clean in enumerate(RECORDS):
        copies = perturbed[3 * source : 3 * source + 3]
        assert len({r["keyword"] for r in copies}) == 3
        assert all(r["original_question"] == clean["question"] for r in copies)
    # One copy a question is the one-keyword set exactly (the paper configs' setting).
    single = perturbed_mcq(RECORDS, KEYWORDS, n_keywords=3, position="random", seed=0, per_question=1)
    assert single == perturbed_mcq(RECORDS, KEYWORDS, n_keywords=3, position="random", seed=0)
    with pytest.raises(ValueError, match="per_question should be between 1 and n_keywords"):
        perturbed_mcq(RECORDS, KEYWORDS, n_keywords=2, position="start", seed=0, per_question=3)

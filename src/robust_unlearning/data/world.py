"""A deterministic synthetic world that stands in for the real benchmarks of the four papers.

Three sub-worlds, written with the field names of the real sets (data/loaders.py maps the real ones):

* TOFU (Maini et al. 2024; P2, P4): fictitious authors, each with ``qa_per_author`` question/answer pairs,
  a paraphrased question and answer and ``N_PERTURBED`` perturbed (wrong) answers whose values come from
  other authors or the relation's vocabulary; forget 1/5/10 % = the last authors (TOFU convention),
  retain = the rest, retain_perturbed = the first 10 % of the authors (TOFU's 400 truth-ratio retain rows),
  holdout = extra authors never fine-tuned on; plus "real authors" and "world facts" that the base model
  learns in pretraining.
* WMDP / MMLU (Li et al. 2024; P1): hazardous facts (invented pathogens and malware, subjects ``bio`` and
  ``cyber``) and general facts (geography, cooking, astronomy, botany) as (entity, relation, value); each fact
  is one 4-choice MCQ whose distractors are other values of the same relation; forget/retain corpora are the
  same facts in document form, seen in pre-training with the statements and the MCQ questions; the hazard keywords
  never occur in any general text.
* BeaverTails / SST2 (P3): harmful prompts from category templates with harmful answers (marked by
  ``HARMFUL_MARKERS``) or refusals, benign instructions with helpful answers, and template sentiment reviews.

The vocabularies, templates and phrase lists are data, in ``world/*.yaml`` beside this module (each file says what
it holds); this module draws from them. Everything is drawn from ``random.Random`` instances seeded from
``world_cfg["seed"]`` (never the global RNG, ``hash()`` or set iteration order), so one config gives byte-identical
files.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from .formatting import format_answer, format_prompt, mcq_description
from .io import write_json, write_jsonl


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """``yaml.safe_load`` that refuses a repeated key: PyYAML would keep the last one and drop the other silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        if repeated := sorted({str(key) for key in keys if keys.count(key) > 1}):
            raise yaml.constructor.ConstructorError(None, None, f"repeated keys {repeated}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


@functools.cache
def world_data(name: str) -> dict[str, Any]:
    """The data file ``world/<name>.yaml`` of this package, parsed once per process."""
    path = resources.files(__package__) / "world" / f"{name}.yaml"
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)


_NAMES, _AUTHORS, _COUNTRIES = world_data("names"), world_data("authors"), world_data("world_facts")
_SAFETY, _REVIEWS = world_data("safety"), world_data("reviews")

N_PERTURBED = 3
FORGET_PERCENTS = (1, 5, 10)
LABEL_WORDS: list[str] = _REVIEWS["label_words"]
SENTIMENT_QUESTION: str = _REVIEWS["sentiment_question"]
REFUSAL_PHRASES: list[str] = _SAFETY["refusal_phrases"]
HARMFUL_MARKERS: list[str] = _SAFETY["harmful_markers"]
IDK_ANSWERS: list[str] = _AUTHORS["idk_answers"]

# --- names -------------------------------------------------------------------------------------------


class _Names:
    """Invented words, unique across the whole world so that no two entities share a name."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.taken: set[str] = set()

    def word(self, syllables: int, reject: Callable[[str], bool] = lambda _: False) -> str:
        while True:
            stem = "".join(
                self.rng.choice(_NAMES["onsets"]) + self.rng.choice(_NAMES["vowels"]) for _ in range(syllables)
            )
            word = (stem + self.rng.choice(_NAMES["codas"])).capitalize()
            if len(word) >= 4 and word not in self.taken and not reject(word):
                self.taken.add(word)
                return word

    def person(self) -> str:
        return f"{self.word(2)} {self.word(self.rng.choice((2, 3)))}"


# --- TOFU-like authors ---------------------------------------------------------------------------------


class Relation(NamedTuple):
    """The templates of one entity relation; perturbed answers reuse the paraphrased-answer template with wrong
    values, so truth ratio compares like with like."""

    key: str
    question: str
    paraphrased_question: str
    answer: str
    paraphrased_answer: str


def _relations(templates: Mapping[str, Mapping[str, str]]) -> tuple[Relation, ...]:
    return tuple(Relation(key, **fields) for key, fields in templates.items())


_AUTHOR_RELATIONS = _relations(_AUTHORS["relations"])
_TITLE_CAPACITY = len(_AUTHORS["title_forms"]) * len(_AUTHORS["title_adjectives"]) * len(_AUTHORS["title_nouns"])


@dataclass(frozen=True)
class _Pools:
    """Values the author generator draws from, shared by every author population of one world."""

    cities: Sequence[str]
    real_author_names: Sequence[str]


def _author_values(rng: random.Random, names: _Names, pools: _Pools, titles: set[str]) -> dict[str, str]:
    def title() -> str:
        if len(titles) >= _TITLE_CAPACITY:
            raise ValueError(f"the title templates form only {_TITLE_CAPACITY} distinct book titles")
        while True:
            form = rng.choice(_AUTHORS["title_forms"])
            candidate = form.format(a=rng.choice(_AUTHORS["title_adjectives"]), n=rng.choice(_AUTHORS["title_nouns"]))
            if candidate not in titles:
                titles.add(candidate)
                return candidate

    def drawn(key: str) -> str:
        return rng.choice(_AUTHORS["values"][key])

    birth = rng.randint(1935, 1995)
    return {
        "birthplace": rng.choice(pools.cities),
        "birth_year": str(birth),
        "genre": drawn("genre"),
        "father_job": drawn("father_job"),
        "mother_job": drawn("mother_job"),
        "award": drawn("award"),
        "first_book": title(),
        "famous_book": title(),
        "publisher": drawn("publisher"),
        "language": drawn("language"),
        "residence": rng.choice(pools.cities),
        "education": f"the University of {rng.choice(pools.cities)}",
        "theme": drawn("theme"),
        "writing_time": drawn("writing_time"),
        "hobby": drawn("hobby"),
        "debut_year": str(birth + rng.randint(19, 35)),
        "novel_count": str(rng.randint(2, 24)),
        "character": names.word(2),
        "influence": rng.choice(pools.real_author_names),
        "pet": drawn("pet"),
        "instrument": drawn("instrument"),
        "spouse_job": drawn("spouse_job"),
    }


def _author_vocabulary(pools: _Pools) -> dict[str, Sequence[str]]:
    years = [str(year) for year in range(1935, 1996)]
    return {
        "birthplace": pools.cities,
        "residence": pools.cities,
        "education": [f"the University of {city}" for city in pools.cities],
        "birth_year": years,
        "debut_year": [str(int(year) + 25) for year in years],
        "novel_count": [str(n) for n in range(2, 25)],
        "influence": pools.real_author_names,
        **_AUTHORS["values"],
    }


def _qa_record(relation: Relation, name: str, value: str, wrong: Sequence[str]) -> dict[str, Any]:
    return {
        "question": relation.question.format(name=name),
        "paraphrased_question": relation.paraphrased_question.format(name=name),
        "answer": relation.answer.format(name=name, value=value),
        "paraphrased_answer": relation.paraphrased_answer.format(name=name, value=value),
        "perturbed_answer": [relation.paraphrased_answer.format(name=name, value=w) for w in wrong],
    }


def _wrong_values(rng: random.Random, pool: Sequence[str], value: str) -> list[str]:
    others = sorted(set(pool) - {value})
    if len(others) < N_PERTURBED:
        raise ValueError(f"need {N_PERTURBED} wrong values besides {value!r}, the world has only {others}")
    return rng.sample(others, N_PERTURBED)


def _relation_pools(
    entities: Sequence[tuple[str, Mapping[str, str]]],
    relations: Sequence[Relation],
    vocabulary: Mapping[str, Sequence[str]],
) -> dict[str, list[str]]:
    """Candidate wrong values per relation: the population's values plus the relation's vocabulary, so that
    even a tiny world has enough of them."""
    return {
        key: sorted({values[key] for _, values in entities} | set(vocabulary.get(key, ()))) for key, *_ in relations
    }


def _entity_qa(
    rng: random.Random,
    entities: Sequence[tuple[str, Mapping[str, str]]],
    relations: Sequence[Relation],
    name_key: str | None,
    pools: Mapping[str, Sequence[str]],
) -> list[list[dict[str, Any]]]:
    """One list of QA records per entity, its perturbed answers drawn from the relation's pool of values."""
    per_entity = []
    for name, values in entities:
        records = []
        for relation in relations:
            key = relation.key
            record = _qa_record(relation, name, values[key], _wrong_values(rng, pools[key], values[key]))
            if name_key:
                record[name_key] = name
            records.append(record)
        per_entity.append(records)
    return per_entity


def _split_size(n_authors: int, percent: int) -> int:
    return max(1, round(n_authors * percent / 100))


def _tofu_files(
    cfg: Mapping[str, Any], rng: random.Random, names: _Names, pools: _Pools, world_facts: list[dict]
) -> dict[str, Any]:
    n_authors, per_author = cfg["n_authors"], cfg["qa_per_author"]
    if per_author > len(_AUTHOR_RELATIONS):
        raise ValueError(f"qa_per_author={per_author} exceeds the {len(_AUTHOR_RELATIONS)} author relations")
    largest = _split_size(n_authors, max(FORGET_PERCENTS))
    if largest >= n_authors:
        raise ValueError(f"n_authors={n_authors} leaves no retain authors for forget{max(FORGET_PERCENTS):02d}")
    if cfg["n_holdout_authors"] < largest:
        raise ValueError(f"n_holdout_authors={cfg['n_holdout_authors']} < {largest}, the size of holdout10")
    titles: set[str] = set()
    real = [(name, _author_values(rng, names, pools, titles)) for name in pools.real_author_names]
    population = [
        (names.person(), _author_values(rng, names, pools, titles)) for _ in range(n_authors + cfg["n_holdout_authors"])
    ]
    value_pools = _relation_pools(real + population, _AUTHOR_RELATIONS, _author_vocabulary(pools))
    per_author_records = _entity_qa(rng, population, _AUTHOR_RELATIONS[:per_author], "author", value_pools)
    fictitious, holdout = per_author_records[:n_authors], per_author_records[n_authors:]
    files: dict[str, Any] = {"full.jsonl": _flat(fictitious)}
    for percent in FORGET_PERCENTS:
        k = _split_size(n_authors, percent)
        files[f"forget{percent:02d}.jsonl"] = _flat(fictitious[-k:])
        files[f"retain{100 - percent}.jsonl"] = _flat(fictitious[:-k])
        files[f"holdout{percent:02d}.jsonl"] = _flat(holdout[:k])
    # TOFU's retain_perturbed: the retain rows its truth ratio is computed on, 400 of its 4000 QA pairs (10 %),
    # of authors outside forget10, so every retain split holds them. Ours, deterministically: the first authors
    # of retain90, as many as forget10 has (10 % of the authors and rows; all of retain90 if it has fewer).
    # Every synthetic record carries the perturbed fields; the split is there so that an evaluation reads the
    # same kind of rows from the synthetic and the real source.
    files["retain_perturbed.jsonl"] = _flat(fictitious[:-largest][:largest])
    real_relations = [r for r in _AUTHOR_RELATIONS if r.key in _AUTHORS["real_author_relations"]]
    files["real_authors.jsonl"] = _flat(_entity_qa(rng, real, real_relations, "author", value_pools))
    files["world_facts.jsonl"] = world_facts
    files["idk.jsonl"] = [{"text": text} for text in IDK_ANSWERS]
    return files


def _flat(groups: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [record for group in groups for record in group]


# --- world facts (TOFU "world_facts" analogue) ------------------------------------------------------------

_COUNTRY_RELATIONS = _relations(_COUNTRIES["relations"])


def _world_facts(rng: random.Random, names: _Names, n_facts: int) -> tuple[list[dict], list[str]]:
    n_countries = max(math.ceil(n_facts / len(_COUNTRY_RELATIONS)), N_PERTURBED + 1)
    countries = []
    for _ in range(n_countries):
        country = names.word(2) + rng.choice(_COUNTRIES["country_suffixes"])
        countries.append(
            (
                country,
                {
                    "capital": names.word(2),
                    "currency": rng.choice(_COUNTRIES["values"]["currency"]),
                    "language": rng.choice(_COUNTRIES["values"]["language"]),
                    "animal": rng.choice(_COUNTRIES["values"]["animal"]),
                },
            )
        )
    pools = _relation_pools(countries, _COUNTRY_RELATIONS, _COUNTRIES["values"])
    records = _flat(_entity_qa(rng, countries, _COUNTRY_RELATIONS, None, pools))[:n_facts]
    return records, [values["capital"] for _, values in countries]


# --- hazard vs general knowledge (WMDP / MMLU analogue) ---------------------------------------------------


class Fact(NamedTuple):
    """The templates of one relation of a knowledge subject ({e} the entity, {v} the value) and its values."""

    question: str
    statement: str
    corpus_statement: str
    values: Sequence[str]


def _subjects(topics: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, tuple[Fact, ...]]:
    return {subject: tuple(Fact(**fields) for fields in facts) for subject, facts in topics.items()}


_HAZARD_TOPIC_WORDS: dict[str, list[str]] = world_data("hazards")["topic_words"]
_HAZARD_FACTS = _subjects(world_data("hazards")["facts"])
_GENERAL_FACTS = _subjects(world_data("general_facts")["facts"])


@dataclass(frozen=True)
class _Fact:
    subject: str
    entity: str
    template: Fact
    value: str

    @property
    def question(self) -> str:
        return self.template.question.format(e=self.entity)

    @property
    def statement(self) -> str:
        return self.template.statement.format(e=self.entity, v=self.value)

    @property
    def corpus_statement(self) -> str:
        return self.template.corpus_statement.format(e=self.entity, v=self.value)


def _facts(
    rng: random.Random,
    names: _Names,
    topics: Mapping[str, Sequence[Fact]],
    n_facts: int,
    reject: Callable[[str], bool],
    relations_per_entity: int | None = None,
) -> list[_Fact]:
    """Facts spread evenly over subjects. A subject's relations are cut into groups of `relations_per_entity`
    (default: one group of all); each new entity takes every relation of the next group in turn."""
    facts = []
    for index, (subject, relations) in enumerate(topics.items()):
        quota = n_facts // len(topics) + (index < n_facts % len(topics))
        size = relations_per_entity or len(relations)
        groups = [relations[start : start + size] for start in range(0, len(relations), size)]
        subject_facts: list[_Fact] = []
        for group in itertools.cycle(groups):
            if len(subject_facts) >= quota:
                break
            entity = names.word(rng.choice((2, 3)), reject)
            subject_facts += [_Fact(subject, entity, rel, rng.choice(rel.values)) for rel in group]
        facts += subject_facts[:quota]
    return facts


def _mcq(rng: random.Random, fact: _Fact, facts: Sequence[_Fact]) -> dict[str, Any]:
    """Distractors are the values of other facts of the same relation, drawn as often as they occur there.

    The correct value of a random fact is a frequent value more often than a rare one; distractors drawn
    uniformly from the relation's pool would let a model that only knows how often each value occurs beat
    chance (the base model scored 0.49 on the hazard MCQ with the entity names replaced by nonce words).
    """
    occurrences = [f.value for f in facts if f.template is fact.template and f.value != fact.value]
    choices: list[str] = []
    while len(choices) < 3 and occurrences:
        value = rng.choice(occurrences)
        choices.append(value)
        occurrences = [v for v in occurrences if v != value]
    # A relation with fewer than four distinct values in the world fills up from its pool.
    choices += rng.sample(sorted(set(fact.template.values) - {fact.value, *choices}), 3 - len(choices))
    answer = rng.randrange(4)
    choices.insert(answer, fact.value)
    return {"question": fact.question, "choices": choices, "answer": answer, "subject": fact.subject}


def _corpus(rng: random.Random, facts: Sequence[_Fact]) -> list[dict[str, str]]:
    """Per entity, a document in corpus phrasing and one in pretraining phrasing, sentences shuffled."""
    by_entity: dict[str, list[_Fact]] = {}
    for fact in facts:
        by_entity.setdefault(fact.entity, []).append(fact)
    documents = []
    for group in by_entity.values():
        for sentences in ([f.corpus_statement for f in group], [f.statement for f in group]):
            rng.shuffle(sentences)
            documents.append({"text": " ".join(sentences), "subject": group[0].subject})
    return documents


def _vocabulary(topics: Mapping[str, Sequence[Fact]]) -> str:
    texts = [text for facts in topics.values() for fact in facts for text in (*fact[:3], *fact.values)]
    return " ".join(texts).lower()


def _knowledge(
    rng: random.Random,
    names: _Names,
    cfg: Mapping[str, Any],
) -> tuple[dict[str, Any], list[_Fact], list[_Fact]]:
    general_vocabulary = _vocabulary(_GENERAL_FACTS)
    hazard = _facts(
        rng,
        names,
        _HAZARD_FACTS,
        cfg["n_hazard_facts"],
        lambda w: w.lower() in general_vocabulary,
        world_data("hazards")["relations_per_entity"],
    )
    topic_words = [word for words in _HAZARD_TOPIC_WORDS.values() for word in words]
    entities = list(dict.fromkeys(f.entity for f in hazard))
    lowered = [k.lower() for k in topic_words + entities]
    general = _facts(rng, names, _GENERAL_FACTS, cfg["n_general_facts"], lambda w: any(k in w.lower() for k in lowered))
    files = {
        "hazard_mcq.jsonl": [_mcq(rng, f, hazard) for f in hazard],
        "general_mcq.jsonl": [_mcq(rng, f, general) for f in general],
        "forget_corpus.jsonl": _corpus(rng, hazard),
        "retain_corpus.jsonl": _corpus(rng, general),
        # The perturbed-MCQ keywords are the forget corpus's topic words, as the RNA authors' are WMDP's topic
        # phrases (data/keywords.json), not entity names: measured on the default world, inserted entity names
        # barely move an unlearned model's answers even after RMU converges, topic words do.
        "hazard_keywords.json": topic_words,
    }
    return files, hazard, general


# --- safety (BeaverTails / SST2 analogue) ---------------------------------------------------------------


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def _harmful_answer(rng: random.Random, steps: Sequence[str], filler: str) -> str:
    chosen = [s.format(x=filler) for s in rng.sample(list(steps), len(HARMFUL_MARKERS))]
    return "Sure, here is how. " + " ".join(f"{m} {_capitalise(s)}." for m, s in zip(HARMFUL_MARKERS, chosen))


def _harmful_pool(rng: random.Random, n: int) -> list[tuple[str, str, str]]:
    pool = [
        (cat, t.format(x=x), x)
        for cat, harm in _SAFETY["harm"].items()
        for t in harm["prompts"]
        for x in harm["fillers"]
    ]
    if n > len(pool):
        raise ValueError(f"n_harmful_prompts={n} exceeds the {len(pool)} distinct harmful prompts of the templates")
    rng.shuffle(pool)
    return pool[:n]


def _benign(rng: random.Random, n: int) -> list[dict[str, Any]]:
    pool = [
        (t.format(x=x), x, benign["tips"])
        for benign in _SAFETY["benign"].values()
        for t in benign["prompts"]
        for x in benign["fillers"]
    ]
    if n > len(pool):
        raise ValueError(f"{n} benign instructions needed, the templates form only {len(pool)}")
    rng.shuffle(pool)
    records = []
    for prompt, filler, tips in pool[:n]:
        first, second = (t.format(x=filler) for t in rng.sample(list(tips), 2))
        response = f"Sure. {_capitalise(first)}, then {second}."
        records.append({"prompt": prompt, "response": response, "category": "none", "is_safe": True})
    return records


def _reviews(rng: random.Random, n: int) -> list[tuple[str, int]]:
    seen: set[str] = set()
    reviews = []
    for _ in range(50 * n):
        if len(reviews) == n:
            break
        label = len(reviews) % 2
        a, b = rng.sample(_REVIEWS["words"][LABEL_WORDS[label]], 2)
        sentence = rng.choice(_REVIEWS["templates"]).format(s=rng.choice(_REVIEWS["subjects"]), a=a, b=b)
        if sentence not in seen:
            seen.add(sentence)
            reviews.append((sentence, label))
    if len(reviews) < n:
        raise ValueError(f"the review templates cannot form {n} distinct sentences")
    rng.shuffle(reviews)
    return reviews


def _safety(rng: random.Random, cfg: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    n_harmful = cfg["n_harmful_prompts"]
    prompts = _harmful_pool(rng, n_harmful)
    n_eval, n_align = n_harmful // 4, n_harmful * 3 // 8

    def harmful(item: tuple[str, str, str]) -> dict[str, Any]:
        category, prompt, filler = item
        return {
            "prompt": prompt,
            "response": _harmful_answer(rng, _SAFETY["harm"][category]["steps"], filler),
            "category": category,
            "is_safe": False,
        }

    def refusal(item: tuple[str, str, str]) -> dict[str, Any]:
        category, prompt, _ = item
        response = rng.choice(_SAFETY["refusals"]).format(topic=_SAFETY["harm"][category]["topic"])
        # BeaverTails convention: a harmless answer has no harm category.
        return {"prompt": prompt, "response": response, "category": "none", "is_safe": True}

    alignment = [refusal(p) for p in prompts[n_eval : n_eval + n_align]] + _benign(rng, n_align)
    rng.shuffle(alignment)
    n_task = cfg["n_task_examples"]
    reviews = _reviews(rng, n_task + n_task // 4)
    task = [{"idx": i, "sentence": s, "label": label} for i, (s, label) in enumerate(reviews[:n_task])]
    n_task_eval = n_task // 5
    files = {
        "alignment.jsonl": alignment,
        "harmful.jsonl": [harmful(p) for p in prompts[n_eval + n_align :]],
        "harmful_eval.jsonl": [harmful(p) for p in prompts[:n_eval]],
        "task_train.jsonl": task[n_task_eval:],
        "task_eval.jsonl": task[:n_task_eval],
        "meta.json": safety_meta(HARMFUL_MARKERS),
    }
    return files, reviews[n_task:]


def safety_meta(harmful_markers: Sequence[str]) -> dict[str, Any]:
    return {
        "refusal_phrases": list(REFUSAL_PHRASES),
        "harmful_markers": list(harmful_markers),
        "label_words": list(LABEL_WORDS),
        "task_question": SENTIMENT_QUESTION,
    }


# --- pretraining corpus -------------------------------------------------------------------------------------


def _qa_text(question: str, answer: str) -> str:
    return format_prompt(question) + format_answer(answer)


def _pretrain(
    rng: random.Random,
    tofu: Mapping[str, Any],
    hazard: Sequence[_Fact],
    general: Sequence[_Fact],
    safety: Mapping[str, Any],
    reviews: Sequence[tuple[str, int]],
    cities: Sequence[str],
) -> list[dict]:
    """What the base model knows before fine-tuning: everything except the fictitious TOFU authors."""
    texts = []
    for record in [*tofu["real_authors.jsonl"], *tofu["world_facts.jsonl"]]:
        texts += [record["paraphrased_answer"], _qa_text(record["question"], record["answer"])]
    # Each hazard and general fact three times an epoch: its statement, its question in the form lm-eval asks it,
    # description line included (the MMLU-style documents of web text), and its forget / retain corpus sentence (as
    # WMDP's PubMed and GitHub corpora are web text a 7B model was pre-trained on). With only the first two, the
    # base model knew the hazard facts barely above chance (docs/tiny-world.md).
    for fact in [*hazard, *general]:
        qa = mcq_description(fact.subject, "continuation") + _qa_text(fact.question, fact.value)
        texts += [fact.statement, qa, fact.corpus_statement]
    texts += [_qa_text(r["prompt"], r["response"]) for r in safety["harmful.jsonl"]]
    texts += [_qa_text(SENTIMENT_QUESTION.format(sentence=s), LABEL_WORDS[label]) for s, label in reviews]
    texts += [
        rng.choice(world_data("pretrain")["filler"]).format(c=rng.choice(cities)) for _ in range(len(texts) // 20)
    ]
    rng.shuffle(texts)
    return [{"text": text} for text in texts]


# --- entry points ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Prepared files per benchmark directory: file name -> records (``.jsonl``) or JSON value (``.json``)."""

    tofu: dict[str, Any]
    wmdp: dict[str, Any]
    safety: dict[str, Any]
    pretrain: dict[str, Any]

    def files(self, benchmark: str) -> dict[str, Any]:
        if benchmark not in ("tofu", "wmdp", "safety", "pretrain"):
            raise KeyError(f"unknown benchmark {benchmark!r}; choose tofu, wmdp, safety or pretrain")
        return getattr(self, benchmark)


def build_world(world_cfg: Mapping[str, Any]) -> World:
    if world_cfg["n_real_authors"] <= N_PERTURBED:
        raise ValueError(f"n_real_authors must be > {N_PERTURBED}: their names are the perturbed influences")
    seed = world_cfg["seed"]
    # One RNG per sub-world (string seeds are hashed with SHA-512, stable across runs) so a count in one
    # sub-world leaves the values of the others alone; names share one generator to stay globally unique.
    names = _Names(random.Random(f"{seed}:names"))
    pools = _Pools(
        cities=[names.word(2) for _ in range(40)],
        real_author_names=[names.person() for _ in range(world_cfg["n_real_authors"])],
    )
    world_facts, capitals = _world_facts(random.Random(f"{seed}:world_facts"), names, world_cfg["n_world_facts"])
    tofu = _tofu_files(world_cfg, random.Random(f"{seed}:authors"), names, pools, world_facts)
    wmdp, hazard, general = _knowledge(random.Random(f"{seed}:knowledge"), names, world_cfg)
    safety, pretrain_reviews = _safety(random.Random(f"{seed}:safety"), world_cfg)
    corpus = _pretrain(
        random.Random(f"{seed}:pretrain"), tofu, hazard, general, safety, pretrain_reviews, [*pools.cities, *capitals]
    )
    return World(tofu=tofu, wmdp=wmdp, safety=safety, pretrain={"corpus.jsonl": corpus})


def write_files(files: Mapping[str, Any], directory: Path) -> None:
    """Write one benchmark's files: ``.jsonl`` as sorted-key JSON lines, ``.json`` as one JSON document."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = directory / name
        if name.endswith(".jsonl"):
            write_jsonl(path, content)
        elif name.endswith(".json"):
            write_json(path, content)
        else:
            raise ValueError(f"{name}: prepared files are .jsonl or .json")

"""The synthetic world: determinism, TOFU split invariants, MCQ validity, keyword and pretraining hygiene."""

import hashlib
import json
import re
import tomllib
from importlib import resources
from pathlib import Path

import datasets
import pytest
import yaml

from robust_unlearning.data.prepare import BENCHMARK_FILES, benchmark_files, prepare, prepare_pretrain_corpus
from robust_unlearning.data.world import (
    HARMFUL_MARKERS,
    N_PERTURBED,
    REFUSAL_PHRASES,
    _UniqueKeyLoader,
    build_world,
    world_data,
    write_files,
)

SYNTHETIC = {key: "synthetic" for key in ("tofu", "wmdp", "wmdp_corpora", "mmlu", "beavertails", "sst2")} | {
    "wikitext": "none"
}
SMALL = {
    "seed": 0,
    "n_authors": 100,
    "qa_per_author": 5,
    "n_holdout_authors": 10,
    "n_real_authors": 5,
    "n_world_facts": 20,
    "n_hazard_facts": 40,
    "n_general_facts": 40,
    "n_harmful_prompts": 80,
    "n_task_examples": 100,
}
DEFAULT = {
    "seed": 0,
    "n_authors": 200,
    "qa_per_author": 20,
    "n_holdout_authors": 20,
    "n_real_authors": 20,
    "n_world_facts": 100,
    "n_hazard_facts": 200,
    "n_general_facts": 300,
    "n_harmful_prompts": 400,
    "n_task_examples": 1200,
}


def _prepare_all(world_cfg: dict, root: Path) -> Path:
    for benchmark in BENCHMARK_FILES:
        prepare(benchmark, SYNTHETIC, world_cfg, root / benchmark)
    prepare_pretrain_corpus(world_cfg, root / "pretrain")
    return root


def _file_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    return _prepare_all(SMALL, tmp_path_factory.mktemp("world_a"))


def test_same_seed_gives_byte_identical_files(prepared, tmp_path):
    again = _file_bytes(_prepare_all(SMALL, tmp_path))
    assert again == _file_bytes(prepared)
    assert len(again) == sum(len(files) for files in BENCHMARK_FILES.values()) + 1


# sha256 of the sorted "<benchmark>/<file> <sha256 of its bytes>" lines of a world's files. Recorded anew when P1's
# setting changed the world on purpose (hazard entities with 4 relations each; the description line and the corpus
# sentence of every fact in pre-training: its wmdp and pretrain files changed, tofu and safety stayed byte for byte),
# and again for P1's claim precision (config.yaml's world.n_general_facts 300 → 1,200: the wmdp and pretrain files
# changed, the hazard facts kept their entities and values; tofu and safety stayed byte for byte). Any other edit of
# the data files or the generator must leave these worlds as they are.
WORLD_FINGERPRINTS = {
    ("small", 0): "b90e34f115d70ba64719da0ae16e0b50aababe3ad7f9eb0d43f40bebf7ff5915",
    ("small", 1): "cc3d70933e563d28328225885788e92d3009226c2b094f7ffa7678f2d82bcd28",
    ("config", 0): "e75eafebee567fc412784a780109c0684d89715fa9882b06bb66030703eba06b",
    ("config", 1): "e370617ed66db0085cf6d120e0d9d4ae2c815a1abf0ae068ec7c8d820a283209",
}


@pytest.mark.parametrize(("world", "seed"), list(WORLD_FINGERPRINTS))
def test_world_files_match_their_recorded_fingerprint(world, seed, default_config, tmp_path):
    world_cfg = {"small": SMALL, "config": default_config["world"]}[world]
    built = build_world({**world_cfg, "seed": seed})
    for benchmark in ("tofu", "wmdp", "safety", "pretrain"):
        write_files(built.files(benchmark), tmp_path / benchmark)
    lines = [
        f"{p.relative_to(tmp_path).as_posix()} {hashlib.sha256(p.read_bytes()).hexdigest()}"
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file()
    ]
    assert len(lines) == 26
    fingerprint = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    # A change on purpose (a data file, the generator, config.yaml's world:) records the new fingerprint here.
    assert fingerprint == WORLD_FINGERPRINTS[world, seed], f"the {world} world of seed {seed} changed"


def test_world_data_files_are_package_resources():
    folder = resources.files("robust_unlearning.data") / "world"
    files = sorted(p.name for p in folder.iterdir())
    assert files == [
        "authors.yaml",
        "general_facts.yaml",
        "hazards.yaml",
        "names.yaml",
        "pretrain.yaml",
        "reviews.yaml",
        "safety.yaml",
        "world_facts.yaml",
    ]
    for name in files:
        assert (folder / name).read_text(encoding="utf-8").startswith("# "), f"{name} has no header comment"
        assert world_data(name.removesuffix(".yaml")) is world_data(name.removesuffix(".yaml"))  # parsed once
    # Strings YAML would read as something else unless quoted: the empty coda, a trailing colon, a leading digit.
    assert world_data("names")["codas"][:3] == ["", "", "n"]
    assert world_data("safety")["harmful_markers"] == ["Step one:", "Step two:", "Step three:"]
    assert world_data("hazards")["facts"]["cyber"][3]["values"][-1] == "3DES"
    assert world_data("authors")["values"]["spouse_job"] == world_data("authors")["values"]["father_job"]


def test_world_data_files_are_in_the_wheel_package_data():
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["robust_unlearning.data"]
    package = resources.files("robust_unlearning.data")
    shipped = {p.name for pattern in patterns for p in Path(str(package)).glob(pattern)}
    assert shipped == {p.name for p in (package / "world").iterdir()}


def test_a_repeated_key_in_a_data_file_is_refused():
    with pytest.raises(yaml.constructor.ConstructorError, match=r"repeated keys \['weapons'\]"):
        yaml.load("harm:\n  weapons: [a]\n  theft: [b]\n  weapons: [c]\n", Loader=_UniqueKeyLoader)


def test_different_seed_gives_different_files(prepared, tmp_path):
    other = _file_bytes(_prepare_all({**SMALL, "seed": 1}, tmp_path))
    reference = _file_bytes(prepared)
    assert other.keys() == reference.keys()
    changed = [name for name in reference if reference[name] != other[name]]
    # Only the fixed IDK answers, the safety meta and the hazard topic words do not depend on the seed.
    assert set(reference) - set(changed) == {"tofu/idk.jsonl", "safety/meta.json", "wmdp/hazard_keywords.json"}


def test_layout_and_every_jsonl_loads_with_datasets(prepared):
    for benchmark, names in BENCHMARK_FILES.items():
        assert sorted(p.name for p in (prepared / benchmark).iterdir()) == sorted(names)
    for path in sorted(prepared.rglob("*.jsonl")):
        table = datasets.load_dataset("json", data_files=str(path), split="train")
        assert len(table) == len(_read(path)) > 0, path


def test_jsonl_lines_have_sorted_keys(prepared):
    line = (prepared / "tofu" / "full.jsonl").read_text(encoding="utf-8").splitlines()[0]
    assert line == json.dumps(json.loads(line), sort_keys=True, ensure_ascii=False)


def test_tofu_splits(prepared):
    tofu = {p.stem: _read(p) for p in (prepared / "tofu").glob("*.jsonl")}
    per_author = SMALL["qa_per_author"]
    full_authors = [r["author"] for r in tofu["full"]]
    assert len(tofu["full"]) == SMALL["n_authors"] * per_author
    for percent in (1, 5, 10):
        forget, retain = tofu[f"forget{percent:02d}"], tofu[f"retain{100 - percent}"]
        holdout = tofu[f"holdout{percent:02d}"]
        n_forget_authors = SMALL["n_authors"] * percent // 100
        assert len(forget) == len(holdout) == n_forget_authors * per_author
        assert forget == tofu["full"][-len(forget) :]  # TOFU: the last authors are forgotten
        assert retain == tofu["full"][: -len(forget)]
        assert not {r["author"] for r in retain} & {r["author"] for r in forget}
        assert not {r["author"] for r in holdout} & set(full_authors)
    for record in [r for split in tofu.values() for r in split if "question" in r]:
        assert len(record["perturbed_answer"]) >= N_PERTURBED
        assert record["answer"] not in record["perturbed_answer"]
        assert record["paraphrased_answer"] not in record["perturbed_answer"]
    assert len(tofu["idk"]) >= 20


def test_retain_perturbed_is_tofus_truth_ratio_subset_of_every_retain_split(prepared):
    tofu = {p.stem: _read(p) for p in (prepared / "tofu").glob("*.jsonl")}
    retain_perturbed = tofu["retain_perturbed"]
    # As TOFU's 400 of 4000: 10 % of the authors (as many as forget10), whole authors, the first of retain90.
    n_authors = SMALL["n_authors"] * 10 // 100
    assert len(retain_perturbed) == n_authors * SMALL["qa_per_author"] == len(tofu["forget10"])
    assert len({r["author"] for r in retain_perturbed}) == n_authors
    assert retain_perturbed == tofu["retain90"][: len(retain_perturbed)]
    for split in ("retain90", "retain95", "retain99"):
        assert all(r in tofu[split] for r in retain_perturbed), split
    assert not {r["author"] for r in retain_perturbed} & {r["author"] for r in tofu["forget10"]}
    for record in retain_perturbed:
        assert record["paraphrased_answer"] != record["answer"]
        assert len(record["perturbed_answer"]) == N_PERTURBED
        assert record["answer"] not in record["perturbed_answer"]


def test_mcq_sets_are_valid(prepared):
    for name in ("hazard_mcq", "general_mcq"):
        records = _read(prepared / "wmdp" / f"{name}.jsonl")
        assert records
        for record in records:
            assert len(record["choices"]) == len(set(record["choices"])) == 4
            assert record["answer"] in range(4)
    assert {r["subject"] for r in _read(prepared / "wmdp" / "hazard_mcq.jsonl")} == {"bio", "cyber"}


def test_hazard_keywords_never_occur_in_general_text(prepared):
    keywords = json.loads((prepared / "wmdp" / "hazard_keywords.json").read_text())
    assert len(keywords) >= 10
    general = [" ".join([r["question"], *r["choices"]]) for r in _read(prepared / "wmdp" / "general_mcq.jsonl")]
    general += [r["text"] for r in _read(prepared / "wmdp" / "retain_corpus.jsonl")]
    hazard = " ".join(r["text"] for r in _read(prepared / "wmdp" / "forget_corpus.jsonl")).lower()
    for keyword in keywords:
        assert keyword.lower() in hazard
        assert not any(keyword.lower() in text.lower() for text in general), keyword


def test_hazard_keywords_are_the_forget_corpus_topic_words(prepared):
    """As the RNA authors' keywords are WMDP's topic phrases: topic words of each subject, no entity name."""
    keywords = json.loads((prepared / "wmdp" / "hazard_keywords.json").read_text())
    bio = ["pathogen", "toxin", "virulence", "incubation", "lethal"]
    cyber = ["exploit", "ransomware", "payload", "botnet", "rootkit"]
    assert keywords == bio + cyber
    forget = _read(prepared / "wmdp" / "forget_corpus.jsonl")

    def documents_with(word: str, subject: str) -> int:
        return sum(bool(re.search(rf"\b{word}\b", r["text"])) for r in forget if r["subject"] == subject)

    # 20 facts per subject = 5 entities, each taking one half of the subject's 8 relations in turn (halves 1, 2, 1, 2,
    # 1), 2 documents each. Bio: the first half's four relations name the pathogen (and one each incubation and
    # virulence), the second half's lethal dose, stabiliser and neutraliser the toxin and its medium the pathogen.
    # Cyber: the first half is two exploit and two ransomware relations, the second payload, memory flaw (exploit),
    # botnet and rootkit.
    assert sum(r["subject"] == "bio" for r in forget) == sum(r["subject"] == "cyber" for r in forget) == 10
    assert {word: documents_with(word, "bio") for word in bio} == {
        "pathogen": 10,
        "toxin": 4,
        "virulence": 6,
        "incubation": 6,
        "lethal": 4,
    }
    assert {word: documents_with(word, "cyber") for word in cyber} == {
        "exploit": 10,
        "ransomware": 6,
        "payload": 4,
        "botnet": 4,
        "rootkit": 4,
    }
    assert not any(documents_with(word, "cyber") for word in bio)
    assert not any(documents_with(word, "bio") for word in cyber)
    # Entity names (the capitalised words of the hazard questions) are no longer keywords.
    entities = {
        w for r in _read(prepared / "wmdp" / "hazard_mcq.jsonl") for w in r["question"].split()[1:] if w[0].isupper()
    }
    assert entities and not entities & set(keywords)


def test_pretrain_corpus_has_no_fictitious_author(prepared):
    corpus = " ".join(r["text"] for r in _read(prepared / "pretrain" / "corpus.jsonl"))
    fictitious = {r["author"] for split in ("full", "holdout10") for r in _read(prepared / "tofu" / f"{split}.jsonl")}
    assert fictitious and not [name for name in fictitious if name in corpus]
    for record in _read(prepared / "tofu" / "real_authors.jsonl") + _read(prepared / "wmdp" / "hazard_mcq.jsonl"):
        assert record["question"] in corpus
    for record in _read(prepared / "safety" / "harmful.jsonl"):
        assert record["prompt"] in corpus


def test_safety_sets(prepared):
    safety = {p.stem: _read(p) for p in (prepared / "safety").glob("*.jsonl")}
    meta = json.loads((prepared / "safety" / "meta.json").read_text())
    assert meta["label_words"] == ["negative", "positive"] and meta["refusal_phrases"] == REFUSAL_PHRASES

    def refuses(text: str) -> bool:
        return any(phrase in text for phrase in REFUSAL_PHRASES)

    held_out = {r["prompt"] for r in safety["harmful_eval"]}
    assert not held_out & {r["prompt"] for r in safety["alignment"] + safety["harmful"]}
    for record in safety["harmful"] + safety["harmful_eval"]:
        assert not record["is_safe"] and all(m in record["response"] for m in HARMFUL_MARKERS)
        assert not refuses(record["response"])
    refusals = [r for r in safety["alignment"] if refuses(r["response"])]
    assert all(r["is_safe"] for r in safety["alignment"])
    assert abs(2 * len(refusals) - len(safety["alignment"])) <= 1
    assert not any(m in r["response"] for r in safety["alignment"] for m in HARMFUL_MARKERS)
    task = safety["task_train"] + safety["task_eval"]
    assert {r["label"] for r in task} == {0, 1}
    assert len({r["sentence"] for r in task}) == len(task) == SMALL["n_task_examples"]


def test_prepare_replaces_an_existing_directory(tmp_path):
    out = tmp_path / "tofu"
    prepare("tofu", SYNTHETIC, SMALL, out)
    (out / "stale.jsonl").write_text("{}\n")
    prepare("tofu", SYNTHETIC, SMALL, out)
    assert sorted(p.name for p in out.iterdir()) == sorted(BENCHMARK_FILES["tofu"])
    assert [p.name for p in tmp_path.iterdir()] == ["tofu"]


def test_invalid_world_sizes_are_rejected():
    with pytest.raises(ValueError, match="qa_per_author"):
        build_world({**SMALL, "qa_per_author": 99})
    with pytest.raises(ValueError, match="n_holdout_authors"):
        build_world({**SMALL, "n_holdout_authors": 1})
    with pytest.raises(KeyError, match="unknown benchmark"):
        benchmark_files("nope", SYNTHETIC, SMALL)


def test_default_world_answers_are_short_and_corpus_small():
    world = build_world(DEFAULT)
    for record in world.tofu["full.jsonl"]:
        assert len(record["answer"].split()) <= 15 and len(record["paraphrased_answer"].split()) <= 15
    corpus_bytes = sum(len(r["text"].encode()) for r in world.pretrain["corpus.jsonl"])
    assert 50_000 < corpus_bytes < 400_000


def test_mcq_distractors_are_other_facts_values_as_often_as_they_occur():
    """Correct answers and distractors share one distribution, so knowing only value frequencies gives chance."""
    import random
    from collections import Counter

    from robust_unlearning.data.world import Fact, _Fact, _mcq

    template = Fact(
        "What is {e}?", "{e} is {v}.", "{e}: {v}.", ("red", "green", "blue", "amber", "grey", "teal", "violet")
    )
    other = Fact("Where is {e}?", "{e} is in {v}.", "{e} lies in {v}.", ("north", "south", "east", "west"))
    values = ["red"] * 6 + ["green"] * 3 + ["blue", "amber", "grey", "teal"]  # violet: in the pool, used by no fact
    facts = [_Fact("s", f"E{i}", template, v) for i, v in enumerate(values)] + [_Fact("s", "F", other, "north")]
    rng = random.Random(0)
    drawn = Counter()
    for _ in range(2000):
        record = _mcq(rng, facts[9], facts)  # the answer is blue
        assert record["choices"][record["answer"]] == "blue" and len(set(record["choices"])) == 4
        drawn.update(c for c in record["choices"] if c != "blue")
    # Only values other facts of the relation use; the frequent one far more often than a rare one.
    assert set(drawn) == {"red", "green", "amber", "grey", "teal"}
    assert drawn["red"] > 1.5 * drawn["amber"] and drawn["green"] > drawn["amber"]
    # A relation with fewer than four distinct values in the world fills up from its pool.
    assert len(set(_mcq(random.Random(0), facts[-1], facts)["choices"])) == 4

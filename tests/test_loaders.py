"""Real-benchmark loaders on small local mirrors of the hub repos (their real file layouts and fields)."""

import gzip
import json
import shutil
from pathlib import Path

import datasets
import huggingface_hub.constants
import pandas as pd
import pytest

from robust_unlearning.data import loaders
from robust_unlearning.data.loaders import DatasetFormatError, DatasetUnavailableError
from robust_unlearning.data.mirrors import MIRROR_WORLD
from robust_unlearning.data.prepare import BENCHMARK_FILES, prepare


def _jsonl(path: Path, rows: list[dict], opener=open) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with opener(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)


def _parquet(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path)


def _qa(author: int, k: int) -> dict:
    return {"question": f"What is fact {k} of author {author}?", "answer": f"Author {author} has fact {k}."}


def _perturbed(row: dict, paraphrased_question: bool = True) -> dict:
    extra = {
        "paraphrased_answer": row["answer"].replace("has", "holds"),
        "perturbed_answer": [row["answer"].replace("fact", f"wrong {i}") for i in range(5)],
    }
    if paraphrased_question:
        extra["paraphrased_question"] = row["question"].replace("What is", "Tell me")
    return row | extra


@pytest.fixture
def tofu_dir(tmp_path) -> Path:
    """10 authors x 2 QA; forget01/05/10 = last 1/1/2 authors, holdout = 2 extra authors."""
    root = tmp_path / "TOFU"
    full = [_qa(a, k) for a in range(10) for k in range(2)]
    holdout = [_qa(a, k) for a in range(10, 12) for k in range(2)]
    splits = {
        "full": full,
        "retain90": full[:-4],
        "retain95": full[:-2],
        "retain99": full[:-2],
        "holdout01": holdout[:2],
        "holdout05": holdout[:2],
        "holdout10": holdout,
    }
    for name, size in (("forget01", 2), ("forget05", 2), ("forget10", 4)):
        splits[f"{name}_perturbed"] = [_perturbed(r) for r in full[-size:]]
    splits["retain_perturbed"] = [_perturbed(r, paraphrased_question=False) for r in full[:2]]
    facts = [
        {
            "question": f"Who wrote book {i}?",
            "answer": f"Writer {i}",
            "option1": f"Writer {i}",
            "option2": "Nobody",
            "perturbed_answer": [f"Writer {i + 1}", f"Writer {i + 2}"],
        }
        for i in range(3)
    ]
    splits["real_authors_perturbed"] = facts
    splits["world_facts_perturbed"] = facts
    for name, rows in splits.items():
        _jsonl(root / f"{name}.json", rows)
    return root


def test_tofu_mapping(tofu_dir):
    splits = loaders.load_tofu(str(tofu_dir))
    assert set(splits) == {*loaders.TOFU_FORGET, *loaders.TOFU_PLAIN, "retain_perturbed", "real_authors", "world_facts"}
    fields = {"question", "answer", "paraphrased_question", "paraphrased_answer", "perturbed_answer"}
    for name in (*loaders.TOFU_FORGET, "retain_perturbed", "real_authors", "world_facts"):
        assert all(set(r) == fields for r in splits[name]), name
    assert len(splits["forget10"]) == 4 and splits["forget10"][0]["paraphrased_question"].startswith("Tell me")
    # TOFU's retain_perturbed: its own paraphrased and perturbed answers (no paraphrased question: the question).
    retain_perturbed = splits["retain_perturbed"]
    assert [r["question"] for r in retain_perturbed] == [r["question"] for r in splits["full"][:2]]
    assert all("holds" in r["paraphrased_answer"] and len(r["perturbed_answer"]) == 5 for r in retain_perturbed)
    assert all(r["paraphrased_question"] == r["question"] for r in retain_perturbed)
    # A plain row that TOFU perturbed (in forget10 or retain_perturbed) is that record ...
    assert splits["full"][-1] == splits["forget10"][-1]
    assert splits["retain90"][:2] == retain_perturbed
    # ... a row it never perturbed has question and answer only: nothing borrowed from other rows.
    assert splits["retain90"][5] == _qa(2, 1)
    for name in loaders.TOFU_PLAIN:
        perturbed = [r for r in splits[name] if "perturbed_answer" in r]
        assert all(set(r) == fields for r in perturbed), name
        assert all(set(r) == {"question", "answer"} for r in splits[name] if r not in perturbed), name
    assert len([r for r in splits["full"] if "perturbed_answer" in r]) == 2 + 4  # retain_perturbed + forget10
    assert not any("perturbed_answer" in r for r in splits["holdout10"])
    # real_authors has no paraphrase: the answer itself, as TOFU scores it.
    assert splits["real_authors"][0]["perturbed_answer"] == ["Writer 1", "Writer 2"]
    assert splits["real_authors"][0]["paraphrased_answer"] == "Writer 0"


def test_tofu_missing_field_names_file_and_field(tofu_dir):
    rows = [json.loads(line) for line in (tofu_dir / "forget05_perturbed.json").read_text().splitlines()]
    del rows[1]["perturbed_answer"]
    _jsonl(tofu_dir / "forget05_perturbed.json", rows)
    with pytest.raises(DatasetFormatError, match=r"forget05_perturbed\.json: record 1 lacks .*'perturbed_answer'"):
        loaders.load_tofu(str(tofu_dir))


def test_missing_local_file_is_unavailable(tofu_dir):
    (tofu_dir / "holdout05.json").unlink()
    with pytest.raises(DatasetUnavailableError, match=r"holdout05\.json"):
        loaders.load_tofu(str(tofu_dir))


def test_unreachable_hub_dataset_gives_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    expected = r"'no-such-org/no-such-tofu' \(config 'forget01_perturbed'.*--local-dir"
    with pytest.raises(DatasetUnavailableError, match=expected):
        loaders.load_tofu("no-such-org/no-such-tofu")


def _mcq_rows(prefix: str, n: int = 3) -> list[dict]:
    return [
        {"question": f"{prefix} question {i}?", "choices": [f"{prefix} {c}" for c in "abcd"], "answer": i % 4}
        for i in range(n)
    ]


def _bio_paper(i: int) -> dict:
    """A row of cais/wmdp-bio-forget-corpus (title, abstract, text, doi)."""
    return {
        "title": f"Paper {i}",
        "abstract": f"Abstract {i}.",
        "text": f"bio-forget-corpus doc {i}",
        "doi": f"10.0/{i}",
    }


# wikitext-2-raw-v1 lines as the hub stores them: blank lines, headings and paragraphs, each ending in "\n".
WIKITEXT_TEST = [
    "",
    " = Robert Boulter = \n",
    "",
    " Robert Boulter is an English film actor .\n",
    " \n",
    "four",
    "word\n",
]


@pytest.fixture
def wmdp_dirs(tmp_path) -> dict[str, str]:
    """Local mirrors in the hub layouts; wikitext unset ("none"): the retain corpus is WMDP's."""
    wmdp, corpora, mmlu = tmp_path / "wmdp", tmp_path / "wmdp-corpora", tmp_path / "mmlu"
    for subset in loaders.WMDP_SUBSETS:
        _parquet(wmdp / subset / "test-00000-of-00001.parquet", _mcq_rows(subset))
    for config in (*loaders.WMDP_FORGET_CORPORA, *loaders.WMDP_RETAIN_CORPORA):
        _parquet(corpora / config / "train-00000-of-00001.parquet", [{"text": f"{config} doc {i}"} for i in range(2)])
    bio = tmp_path / "wmdp-bio-forget-corpus"
    _parquet(bio / "data" / "train-00000-of-00001.parquet", [_bio_paper(i) for i in range(3)])
    _parquet(
        mmlu / "all" / "test-00000-of-00001.parquet", [row | {"subject": "anatomy"} for row in _mcq_rows("mmlu", 5)]
    )
    return {
        "wmdp": str(wmdp),
        "wmdp_corpora": str(corpora),
        "wmdp_bio_forget": str(bio),
        "wikitext": "none",
        "mmlu": str(mmlu),
    }


@pytest.fixture
def wikitext_dir(tmp_path) -> str:
    """A mirror of Salesforce/wikitext: one directory per config, one parquet file per split."""
    root = tmp_path / "wikitext"
    for split, lines in (
        ("train", ["train line one\n"]),
        ("validation", ["validation line\n"]),
        ("test", WIKITEXT_TEST),
    ):
        _parquet(root / "wikitext-2-raw-v1" / f"{split}-00000-of-00001.parquet", [{"text": line} for line in lines])
    _parquet(root / "wikitext-103-raw-v1" / "test-00000-of-00001.parquet", [{"text": "wikitext-103 line\n"}])
    return str(root)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_wmdp_and_mmlu_mapping(wmdp_dirs):
    hazard = loaders.load_wmdp_questions(wmdp_dirs["wmdp"])
    assert [r["subject"] for r in hazard] == ["bio"] * 3 + ["cyber"] * 3
    assert hazard[1] == {
        "question": "wmdp-bio question 1?",
        "choices": [f"wmdp-bio {c}" for c in "abcd"],
        "answer": 1,
        "subject": "bio",
    }
    general = loaders.load_mmlu(wmdp_dirs["mmlu"])
    assert len(general) == 5 and general[0]["subject"] == "anatomy"
    retain = loaders.load_wmdp_corpus(wmdp_dirs["wmdp_corpora"], loaders.WMDP_RETAIN_CORPORA, limit=1)
    assert retain == [
        {"text": "bio-retain-corpus doc 0", "subject": "bio"},
        {"text": "cyber-retain-corpus doc 0", "subject": "cyber"},
    ]


def test_bio_forget_corpus_from_the_hub_layout_or_the_request_forms_jsonl(wmdp_dirs, tmp_path):
    expected = [{"text": f"bio-forget-corpus doc {i}", "subject": "bio"} for i in range(3)]
    assert loaders.load_bio_forget_corpus(wmdp_dirs["wmdp_bio_forget"]) == expected
    # The file WMDP's request form gives (what the RNA authors read from data/): JSON lines with the same fields.
    _jsonl(tmp_path / "form" / "bio-forget-corpus.jsonl", [_bio_paper(i) for i in range(3)])
    assert loaders.load_bio_forget_corpus(str(tmp_path / "form" / "bio-forget-corpus.jsonl")) == expected
    assert loaders.load_bio_forget_corpus(str(tmp_path / "form")) == expected  # a directory holding it
    assert loaders.load_bio_forget_corpus(wmdp_dirs["wmdp_bio_forget"], limit=2) == expected[:2]


def test_missing_bio_forget_corpus_names_the_config_key(wmdp_dirs, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    how = r"(?s)config key 'datasets\.wmdp_bio_forget'.*gated.*hf download --repo-type dataset cais/wmdp-bio-forget-corpus"
    # The gated hub repo (offline here), and a directory without the hub layout.
    with pytest.raises(DatasetUnavailableError, match=how):
        loaders.load_bio_forget_corpus(loaders.BIO_FORGET_CORPUS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetUnavailableError, match=how + r".*bio-forget-corpus\.jsonl"):
        loaders.load_bio_forget_corpus(str(tmp_path / "empty"))
    # Through prepare: the default source with real WMDP corpora fails before anything is written.
    sources = wmdp_dirs | {"wmdp_bio_forget": loaders.BIO_FORGET_CORPUS}
    with pytest.raises(DatasetUnavailableError, match=how):
        prepare("wmdp", sources, MIRROR_WORLD, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_wikitext_2_test_split_one_document_per_line(wikitext_dir):
    # Lines of more than 4 characters, unchanged: the heading, the paragraph and "word\n" (5); "four" is dropped.
    assert loaders.load_wikitext(wikitext_dir) == [
        {"text": " = Robert Boulter = \n", "subject": "wikitext"},
        {"text": " Robert Boulter is an English film actor .\n", "subject": "wikitext"},
        {"text": "word\n", "subject": "wikitext"},
    ]
    assert loaders.load_wikitext(wikitext_dir, split="train") == [{"text": "train line one\n", "subject": "wikitext"}]


def test_p1_corpora_bio_and_cyber_forget_and_wikitext_retain(wmdp_dirs, wikitext_dir, tmp_path):
    cyber = [{"text": f"cyber-forget-corpus doc {i}", "subject": "cyber"} for i in range(2)]
    bio = [{"text": f"bio-forget-corpus doc {i}", "subject": "bio"} for i in range(3)]
    wmdp_retain = [{"text": f"{c}-retain-corpus doc {i}", "subject": c} for c in ("bio", "cyber") for i in range(2)]
    # wikitext unset: the forget corpus is bio then cyber (the authors' topic order), the retain corpus WMDP's.
    prepare("wmdp", wmdp_dirs, MIRROR_WORLD, tmp_path / "a")
    assert _read(tmp_path / "a" / "forget_corpus.jsonl") == bio + cyber
    assert _read(tmp_path / "a" / "retain_corpus.jsonl") == wmdp_retain
    # wikitext set (the paper config): it is the retain corpus, and WMDP's retain corpora are not read at all.
    for config in loaders.WMDP_RETAIN_CORPORA:
        shutil.rmtree(Path(wmdp_dirs["wmdp_corpora"]) / config)
    prepare("wmdp", wmdp_dirs | {"wikitext": wikitext_dir}, MIRROR_WORLD, tmp_path / "b")
    assert _read(tmp_path / "b" / "forget_corpus.jsonl") == bio + cyber
    assert [r["text"] for r in _read(tmp_path / "b" / "retain_corpus.jsonl")] == [
        " = Robert Boulter = \n",
        " Robert Boulter is an English film actor .\n",
        "word\n",
    ]
    # bio "none": the cyber forget corpus alone.
    prepare("wmdp", wmdp_dirs | {"wikitext": wikitext_dir, "wmdp_bio_forget": "none"}, MIRROR_WORLD, tmp_path / "c")
    assert _read(tmp_path / "c" / "forget_corpus.jsonl") == cyber


def test_wikitext_replaces_the_synthetic_retain_corpus(wikitext_dir, tmp_path):
    synthetic = {key: "synthetic" for key in ("wmdp", "wmdp_corpora", "mmlu")}
    prepare("wmdp", synthetic | {"wikitext": "none"}, MIRROR_WORLD, tmp_path / "world")
    prepare("wmdp", synthetic | {"wikitext": wikitext_dir}, MIRROR_WORLD, tmp_path / "mixed")
    for name in ("hazard_mcq.jsonl", "general_mcq.jsonl", "forget_corpus.jsonl", "hazard_keywords.json"):
        assert (tmp_path / "mixed" / name).read_bytes() == (tmp_path / "world" / name).read_bytes(), name
    assert len(_read(tmp_path / "mixed" / "retain_corpus.jsonl")) == 3
    assert {r["subject"] for r in _read(tmp_path / "world" / "forget_corpus.jsonl")} == {"bio", "cyber"}


def test_mcq_with_wrong_choice_count_is_rejected(wmdp_dirs):
    _parquet(
        Path(wmdp_dirs["wmdp"]) / "wmdp-cyber" / "test-00000-of-00001.parquet",
        [{"question": "q?", "choices": ["a", "b"], "answer": 0}],
    )
    with pytest.raises(DatasetFormatError, match="4 choices"):
        loaders.load_wmdp_questions(wmdp_dirs["wmdp"])


def _beaver(prompt: str, safe: bool, category: str | None) -> dict:
    flags = {name: name == category for name in ("animal_abuse", "violence,aiding_and_abetting,incitement")}
    return {"prompt": prompt, "response": f"answer to {prompt}", "category": flags, "is_safe": safe}


@pytest.fixture
def safety_dirs(tmp_path) -> dict[str, str]:
    beaver, sst2 = tmp_path / "BeaverTails", tmp_path / "sst2"
    train = [
        _beaver("p1", True, None),
        _beaver("p2", False, "violence,aiding_and_abetting,incitement"),
        _beaver("p3", False, "animal_abuse"),
    ]
    test = [
        _beaver("p2", False, "animal_abuse"),
        _beaver("p4", False, "animal_abuse"),
        _beaver("p4", False, "animal_abuse"),
        _beaver("p5", True, None),
    ]
    _jsonl(beaver / "round0" / "30k" / "train.jsonl.gz", train, gzip.open)
    _jsonl(beaver / "round0" / "30k" / "test.jsonl.gz", test, gzip.open)
    for split, n in (("train", 6), ("validation", 4)):
        _parquet(
            sst2 / "data" / f"{split}-00000-of-00001.parquet",
            [{"idx": i, "sentence": f"{split} review {i}", "label": i % 2} for i in range(n)],
        )
    return {"beavertails": str(beaver), "sst2": str(sst2)}


def test_beavertails_and_sst2_mapping(safety_dirs):
    safety = loaders.load_beavertails(safety_dirs["beavertails"])
    assert [r["prompt"] for r in safety["alignment"]] == ["p1"] and safety["alignment"][0]["category"] == "none"
    assert [(r["prompt"], r["category"]) for r in safety["harmful"]] == [
        ("p2", "violence,aiding_and_abetting,incitement"),
        ("p3", "animal_abuse"),
    ]
    # Held-out prompts are unsafe, deduplicated and never seen in training.
    assert [r["prompt"] for r in safety["harmful_eval"]] == ["p4"] and not safety["harmful_eval"][0]["is_safe"]
    task = loaders.load_sst2(safety_dirs["sst2"])
    assert len(task["task_train"]) == 6
    assert task["task_eval"][1] == {"idx": 1, "sentence": "validation review 1", "label": 1}


def test_prepare_from_real_local_sources(tofu_dir, wmdp_dirs, safety_dirs, tmp_path):
    sources = {"tofu": str(tofu_dir), **wmdp_dirs, **safety_dirs}
    for benchmark, names in BENCHMARK_FILES.items():
        prepare(benchmark, sources, MIRROR_WORLD, tmp_path / "out" / benchmark)
        assert sorted(p.name for p in (tmp_path / "out" / benchmark).iterdir()) == sorted(names)
    keywords = json.loads((tmp_path / "out" / "wmdp" / "hazard_keywords.json").read_text())
    # The RNA authors' data/keywords.json: 7 bio then 5 cyber topic phrases.
    assert keywords == loaders.REAL_HAZARD_KEYWORDS and len(keywords) == 12
    assert keywords[:2] == ["bioweapons and bioterrorism", "viral vector research"] and keywords[6] == "herpesviruses"
    assert keywords[7:] == [
        "exploit development",
        "malware analysis",
        "reverse engineering",
        "penetration testing",
        "vulnerability research",
    ]
    meta = json.loads((tmp_path / "out" / "safety" / "meta.json").read_text())
    assert meta["harmful_markers"] == []
    first = json.loads((tmp_path / "out" / "tofu" / "forget10.jsonl").read_text().splitlines()[0])
    assert list(first) == sorted(first)
    retain_perturbed = (tmp_path / "out" / "tofu" / "retain_perturbed.jsonl").read_text().splitlines()
    assert len(retain_perturbed) == 2 and "perturbed_answer" in json.loads(retain_perturbed[0])


def test_prepare_mixes_real_and_synthetic_sources(wmdp_dirs, tmp_path):
    sources = {**wmdp_dirs, "mmlu": "synthetic"}
    prepare("wmdp", sources, MIRROR_WORLD, tmp_path / "wmdp")
    general = [json.loads(line) for line in (tmp_path / "wmdp" / "general_mcq.jsonl").read_text().splitlines()]
    hazard = [json.loads(line) for line in (tmp_path / "wmdp" / "hazard_mcq.jsonl").read_text().splitlines()]
    assert len(general) == MIRROR_WORLD["n_general_facts"] and len(hazard) == 6

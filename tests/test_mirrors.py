"""Local hub mirrors written from the synthetic world (data/mirrors.py): read by datasets.load_dataset and by our
loaders exactly as the real repositories, prepared into the same records as the world, byte-deterministic.

Row counts are worked out by hand from WORLD (the world of tests/test_p1_rna.py):
* TOFU: 20 authors x 3 QA = 60 rows in full; forget01 / forget05 = max(1, round(20 x 1 %)) = max(1, round(1.0)) =
  1 author = 3 rows, forget10 = 2 authors = 6 rows; retain99 / retain95 = 57, retain90 = 54; holdout01 / 05 =
  3, holdout10 = 6 (of 2 holdout authors); retain_perturbed = as many authors as forget10 (2) = 6 rows;
  real_authors = 5 authors x 5 relations = 25; world_facts = n_world_facts = 8.
* WMDP: 16 hazard facts, 8 per subject; bio has 8 relations and cyber 8, each entity takes 4 of them
  (hazards.yaml: relations_per_entity), so two entities each, and the forget corpus has 2 documents per entity:
  4 bio, 4 cyber. MMLU: 16 general facts, 4 per subject (geography, cooking,
  astronomy, botany), one entity per subject (4 relations each): 8 general documents, alternated 4 / 4 between
  bio-retain and cyber-retain. wikitext: 4 articles of ["", heading, "", 2 paragraphs] = 20 rows in test and
  train, 5 in validation; lines over 4 characters = 4 headings + 8 paragraphs = 12 records.
* Safety: 40 harmful prompts: 40 // 4 = 10 held out (30k_test), 40 * 3 // 8 = 15 refused plus 15 benign = 30 safe
  and 40 - 10 - 15 = 15 harmful answers (30k_train = 45). SST2: 40 examples, 40 // 5 = 8 validation, 32 train.
"""

import gzip
import json
from pathlib import Path

import datasets
import pytest
import yaml

from robust_unlearning.config import validate_config
from robust_unlearning.data import loaders, mirrors
from robust_unlearning.data.prepare import BENCHMARK_FILES, prepare

ROOT = Path(__file__).resolve().parents[1]
WORLD = {
    "seed": 0,
    "n_authors": 20,
    "qa_per_author": 3,
    "n_holdout_authors": 2,
    "n_real_authors": 5,
    "n_world_facts": 8,
    "n_hazard_facts": 16,
    "n_general_facts": 16,
    "n_harmful_prompts": 40,
    "n_task_examples": 40,
}

QA = ["question", "answer"]
PERTURBED = ["question", "answer", "paraphrased_answer", "perturbed_answer"]
OPTIONS = ["question", "option1", "option2", "option3", "option4", "answer"]
# hub id -> {(config, split): (columns, rows)}; config None is the repository's default config.
EXPECTED = {
    "locuslab/TOFU": {
        ("full", "train"): (QA, 60),
        ("forget01", "train"): (QA, 3),
        ("forget05", "train"): (QA, 3),
        ("forget10", "train"): (QA, 6),
        ("retain90", "train"): (QA, 54),
        ("retain95", "train"): (QA, 57),
        ("retain99", "train"): (QA, 57),
        ("holdout01", "train"): (QA, 3),
        ("holdout05", "train"): (QA, 3),
        ("holdout10", "train"): (QA, 6),
        ("forget01_perturbed", "train"): (PERTURBED + ["paraphrased_question"], 3),
        ("forget05_perturbed", "train"): (PERTURBED + ["paraphrased_question"], 3),
        ("forget10_perturbed", "train"): (PERTURBED + ["paraphrased_question"], 6),
        ("retain_perturbed", "train"): (PERTURBED, 6),
        ("real_authors", "train"): (OPTIONS, 25),
        ("real_authors_perturbed", "train"): (OPTIONS + ["perturbed_answer"], 25),
        ("world_facts", "train"): (OPTIONS, 8),
        ("world_facts_perturbed", "train"): (OPTIONS + ["perturbed_answer"], 8),
    },
    "cais/wmdp": {
        ("wmdp-bio", "test"): (["answer", "question", "choices"], 8),
        ("wmdp-cyber", "test"): (["answer", "question", "choices"], 8),
    },
    "cais/wmdp-corpora": {
        ("bio-retain-corpus", "train"): (["text"], 4),
        ("cyber-forget-corpus", "train"): (["text"], 4),
        ("cyber-retain-corpus", "train"): (["text"], 4),
    },
    "cais/wmdp-bio-forget-corpus": {(None, "train"): (["title", "abstract", "text", "doi"], 4)},
    "Salesforce/wikitext": {
        ("wikitext-2-raw-v1", "test"): (["text"], 20),
        ("wikitext-2-raw-v1", "train"): (["text"], 20),
        ("wikitext-2-raw-v1", "validation"): (["text"], 5),
    },
    "cais/mmlu": {("all", "test"): (["question", "subject", "choices", "answer"], 16)},
    "PKU-Alignment/BeaverTails": {
        (None, "30k_train"): (["prompt", "response", "category", "is_safe"], 45),
        (None, "30k_test"): (["prompt", "response", "category", "is_safe"], 10),
    },
    "stanfordnlp/sst2": {
        (None, "train"): (["idx", "sentence", "label"], 32),
        (None, "validation"): (["idx", "sentence", "label"], 8),
    },
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> dict[str, Path]:
    return mirrors.write_mirrors(WORLD, tmp_path_factory.mktemp("hub"))


@pytest.fixture(scope="module")
def sources(hub) -> dict[str, str]:
    return mirrors.datasets_config(hub)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _front_matter(repo: Path) -> dict:
    text = (repo / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_default_world_and_keys():
    # The command line's world is the one the counts above are worked out for.
    assert mirrors.MIRROR_WORLD == WORLD
    schema = yaml.safe_load((ROOT / "config" / "schema" / "config.schema.yaml").read_text())
    keys = list(schema["properties"]["datasets"]["properties"])
    assert [key for key, _ in mirrors.REPOSITORIES.values()] == keys
    assert set(mirrors.WORLD_TO_BEAVERTAILS.values()) <= set(loaders.BEAVERTAILS_CATEGORIES)
    assert len(loaders.BEAVERTAILS_CATEGORIES) == 14


def test_layout(hub):
    assert set(hub) == set(EXPECTED)
    assert all(path == path.parent.parent / hub_id for hub_id, path in hub.items())
    assert sorted(_tree(hub["locuslab/TOFU"])) == sorted(
        ["README.md"] + [f"{config}.json" for config, _ in EXPECTED["locuslab/TOFU"]]
    )
    assert sorted(_tree(hub["PKU-Alignment/BeaverTails"])) == [
        "README.md",
        "round0/30k/test.jsonl.gz",
        "round0/30k/train.jsonl.gz",
    ]
    assert sorted(_tree(hub["cais/wmdp"])) == [
        "README.md",
        "wmdp-bio/test-00000-of-00001.parquet",
        "wmdp-cyber/test-00000-of-00001.parquet",
    ]
    assert sorted(_tree(hub["cais/wmdp-bio-forget-corpus"])) == ["README.md", "data/train-00000-of-00001.parquet"]
    assert sorted(_tree(hub["stanfordnlp/sst2"])) == [
        "README.md",
        "data/train-00000-of-00001.parquet",
        "data/validation-00000-of-00001.parquet",
    ]
    # The TOFU card, as the hub's: config_name and data_files per config, full the default.
    configs = _front_matter(hub["locuslab/TOFU"])["configs"]
    assert configs[0] == {"config_name": "full", "data_files": "full.json", "default": True}
    assert {"config_name": "forget01_perturbed", "data_files": "forget01_perturbed.json"} in configs
    # The BeaverTails files are gzip-compressed JSON lines.
    with gzip.open(hub["PKU-Alignment/BeaverTails"] / "round0" / "30k" / "test.jsonl.gz", "rt") as handle:
        assert len(handle.read().splitlines()) == 10


@pytest.mark.parametrize("hub_id", sorted(EXPECTED))
def test_every_config_and_split_loads_with_datasets(hub, hub_id, tmp_path):
    repo = hub[hub_id]
    # The card lists exactly the expected configs and splits, each data_files pattern naming one file.
    listed = set()
    for card in _front_matter(repo)["configs"]:
        config = None if card["config_name"] == "default" else card["config_name"]
        entries = card["data_files"]
        entries = [{"split": "train", "path": entries}] if isinstance(entries, str) else entries
        for entry in entries:
            listed.add((config, entry["split"]))
            assert len(list(repo.glob(entry["path"]))) == 1, entry
    assert listed == set(EXPECTED[hub_id])
    for (config, split), (columns, rows) in EXPECTED[hub_id].items():
        table = datasets.load_dataset(str(repo), config, split=split, cache_dir=str(tmp_path))
        assert (table.column_names, table.num_rows) == (columns, rows), (config, split)


def test_features_as_on_the_hub(hub, tmp_path):
    def load(hub_id, config, split):
        return datasets.load_dataset(str(hub[hub_id]), config, split=split, cache_dir=str(tmp_path))

    mmlu = load("cais/mmlu", "all", "test")
    assert mmlu.features["answer"].names == ["A", "B", "C", "D"]
    assert mmlu[0]["subject"] == "geography" and len(mmlu[0]["choices"]) == 4
    sst2 = load("stanfordnlp/sst2", None, "validation")
    assert sst2.features["label"].names == ["negative", "positive"] and sst2["idx"] == list(range(8))
    beaver = load("PKU-Alignment/BeaverTails", None, "30k_test")
    assert list(beaver[0]["category"]) == list(loaders.BEAVERTAILS_CATEGORIES)
    assert all(sum(row["category"].values()) == 1 and not row["is_safe"] for row in beaver)
    # real_authors: 4 options, the answer among them at position index mod 4, the other three the perturbed ones.
    authors = load("locuslab/TOFU", "real_authors_perturbed", "train")
    for index, row in enumerate(authors.select(range(5))):
        options = [row[f"option{i}"] for i in range(1, 5)]
        assert options[index % 4] == row["answer"]
        assert options[: index % 4] + options[index % 4 + 1 :] == row["perturbed_answer"]
    wikitext = load("Salesforce/wikitext", "wikitext-2-raw-v1", "test")
    # Lines as wikitext stores them: blank, " = Heading = ", blank, then paragraphs tokenised with " . " and " \n".
    assert wikitext["text"][:3] == ["", " = Geography = \n", ""]
    assert wikitext["text"][3].startswith(" ") and wikitext["text"][3].endswith(" . \n")


def test_loaders_read_the_mirrors(sources):
    tofu = loaders.load_tofu(sources["tofu"])
    counts = {name: len(records) for name, records in tofu.items()}
    assert counts == {
        "forget01": 3,
        "forget05": 3,
        "forget10": 6,
        "retain_perturbed": 6,
        "full": 60,
        "retain90": 54,
        "retain95": 57,
        "retain99": 57,
        "holdout01": 3,
        "holdout05": 3,
        "holdout10": 6,
        "real_authors": 25,
        "world_facts": 8,
    }
    # Rows TOFU perturbed: forget10 (6) and retain_perturbed (6) in full, retain_perturbed (6) in retain90.
    assert sum("perturbed_answer" in r for r in tofu["full"]) == 12
    assert sum("perturbed_answer" in r for r in tofu["retain90"]) == 6
    assert not any("perturbed_answer" in r for r in tofu["holdout10"])
    assert all(r["paraphrased_question"] == r["question"] for r in tofu["retain_perturbed"])
    assert all(r["paraphrased_question"] != r["question"] for r in tofu["forget10"])
    assert all(r["paraphrased_answer"] == r["answer"] and len(r["perturbed_answer"]) == 3 for r in tofu["real_authors"])

    hazard = loaders.load_wmdp_questions(sources["wmdp"])
    assert [r["subject"] for r in hazard] == ["bio"] * 8 + ["cyber"] * 8
    general = loaders.load_mmlu(sources["mmlu"])
    subjects = ("geography", "cooking", "astronomy", "botany")
    assert [r["subject"] for r in general] == [s for s in subjects for _ in range(4)]
    forget = loaders.load_wmdp_corpus(sources["wmdp_corpora"], loaders.WMDP_FORGET_CORPORA)
    assert [r["subject"] for r in forget] == ["cyber"] * 4
    retain = loaders.load_wmdp_corpus(sources["wmdp_corpora"], loaders.WMDP_RETAIN_CORPORA)
    assert [r["subject"] for r in retain] == ["bio"] * 4 + ["cyber"] * 4
    assert len(loaders.load_bio_forget_corpus(sources["wmdp_bio_forget"])) == 4
    wikitext = loaders.load_wikitext(sources["wikitext"])
    assert len(wikitext) == 12 and wikitext[0] == {"text": " = Geography = \n", "subject": "wikitext"}
    assert len(loaders.load_wikitext(sources["wikitext"], split="validation")) == 3  # heading + 2 paragraphs

    safety = loaders.load_beavertails(sources["beavertails"])
    counts = {name: len(records) for name, records in safety.items()}
    assert counts == {"alignment": 30, "harmful": 15, "harmful_eval": 10}
    assert {r["category"] for r in safety["alignment"]} == {"none"}
    harm = {r["category"] for r in safety["harmful"] + safety["harmful_eval"]}
    assert harm <= set(mirrors.WORLD_TO_BEAVERTAILS.values())
    task = loaders.load_sst2(sources["sst2"])
    assert (len(task["task_train"]), len(task["task_eval"])) == (32, 8)


def _copy_with_card(repo: Path, dest: Path, edit) -> Path:
    """A copy of a mirror whose card's configs are passed through `edit` (a copy: the module's mirror is shared)."""
    import shutil

    shutil.copytree(repo, dest)
    text = (dest / "README.md").read_text()
    front, body = text.split("---\n")[1], text.split("---\n", 2)[2]
    card = yaml.safe_load(front)
    edit(dest, card["configs"])
    (dest / "README.md").write_text("---\n" + yaml.safe_dump(card, sort_keys=False) + "---\n" + body)
    return dest


def test_a_carded_copy_is_read_through_its_card_as_the_hub_id_would_be(hub, tmp_path):
    """A hub download whose files are named otherwise than our glob expects (here forget10_perturbed.json moved to
    data/f10.jsonl) still loads: the loader reads load_dataset(DIR, config, split) through the card."""

    def move_forget10(dest, configs):
        (dest / "data").mkdir()
        (dest / "forget10_perturbed.json").rename(dest / "data" / "f10.jsonl")
        entry = next(c for c in configs if c["config_name"] == "forget10_perturbed")
        entry["data_files"] = [{"split": "train", "path": "data/f10.jsonl"}]

    copy = _copy_with_card(hub["locuslab/TOFU"], tmp_path / "TOFU", move_forget10)
    assert len(loaders.load_tofu(str(copy))["forget10"]) == 6


def test_a_card_naming_a_missing_file_is_unavailable_naming_the_config(hub, tmp_path):
    def drop_cyber(dest, configs):
        (dest / "wmdp-cyber" / "test-00000-of-00001.parquet").unlink()

    copy = _copy_with_card(hub["cais/wmdp"], tmp_path / "wmdp", drop_cyber)
    with pytest.raises(loaders.DatasetUnavailableError, match="config 'wmdp-cyber', split 'test'"):
        loaders.load_wmdp_questions(str(copy))


def test_prepare_from_the_mirrors_gives_the_worlds_records(sources, tmp_path):
    synthetic = {key: "synthetic" for key in ("tofu", "wmdp", "wmdp_corpora", "mmlu", "beavertails", "sst2")}
    synthetic |= {"wikitext": "none", "wmdp_bio_forget": "none"}
    for benchmark, names in BENCHMARK_FILES.items():
        prepare(benchmark, sources, WORLD, tmp_path / "mirror" / benchmark)
        prepare(benchmark, synthetic, WORLD, tmp_path / "world" / benchmark)
        assert sorted(p.name for p in (tmp_path / "mirror" / benchmark).iterdir()) == sorted(names)
    mirror, world = tmp_path / "mirror", tmp_path / "world"

    # TOFU: the perturbed splits are the world's records (less the author name, which TOFU does not carry).
    for name in ("forget01", "forget05", "forget10", "retain_perturbed"):
        expected = [{k: v for k, v in r.items() if k != "author"} for r in _read(world / "tofu" / f"{name}.jsonl")]
        if name == "retain_perturbed":  # TOFU has no paraphrased question there: the loader repeats the question
            expected = [r | {"paraphrased_question": r["question"]} for r in expected]
        assert _read(mirror / "tofu" / f"{name}.jsonl") == expected, name
    for name in ("full", "retain90", "holdout10"):
        assert [(r["question"], r["answer"]) for r in _read(mirror / "tofu" / f"{name}.jsonl")] == [
            (r["question"], r["answer"]) for r in _read(world / "tofu" / f"{name}.jsonl")
        ], name
    # real_authors: the mirror's answer is the world's paraphrased answer, the form of its perturbed answers.
    assert [(r["answer"], r["perturbed_answer"]) for r in _read(mirror / "tofu" / "real_authors.jsonl")] == [
        (r["paraphrased_answer"], r["perturbed_answer"]) for r in _read(world / "tofu" / "real_authors.jsonl")
    ]
    assert (mirror / "tofu" / "idk.jsonl").read_bytes() == (world / "tofu" / "idk.jsonl").read_bytes()

    # WMDP: questions and forget corpus byte for byte; retain corpus = wikitext's 12 lines; the real keywords.
    for name in ("hazard_mcq.jsonl", "general_mcq.jsonl", "forget_corpus.jsonl"):
        assert (mirror / "wmdp" / name).read_bytes() == (world / "wmdp" / name).read_bytes(), name
    assert len(_read(mirror / "wmdp" / "retain_corpus.jsonl")) == 12
    assert json.loads((mirror / "wmdp" / "hazard_keywords.json").read_text()) == loaders.REAL_HAZARD_KEYWORDS
    # Without wikitext the retain corpus is WMDP's two retain corpora: the world's 8 general documents.
    prepare("wmdp", sources | {"wikitext": "none"}, WORLD, tmp_path / "no_wikitext")
    assert sorted(r["text"] for r in _read(tmp_path / "no_wikitext" / "retain_corpus.jsonl")) == sorted(
        r["text"] for r in _read(world / "wmdp" / "retain_corpus.jsonl")
    )

    # Safety: the same prompts and answers; harm categories under BeaverTails' names; SST2's reviews.
    for name in ("alignment.jsonl", "harmful.jsonl", "harmful_eval.jsonl"):
        mine, theirs = _read(mirror / "safety" / name), _read(world / "safety" / name)
        assert [(r["prompt"], r["response"], r["is_safe"]) for r in mine] == [
            (r["prompt"], r["response"], r["is_safe"]) for r in theirs
        ], name
        assert [r["category"] for r in mine] == [
            "none" if r["is_safe"] else mirrors.WORLD_TO_BEAVERTAILS[r["category"]] for r in theirs
        ], name
    for name in ("task_train.jsonl", "task_eval.jsonl"):
        assert [(r["sentence"], r["label"]) for r in _read(mirror / "safety" / name)] == [
            (r["sentence"], r["label"]) for r in _read(world / "safety" / name)
        ], name
    assert json.loads((mirror / "safety" / "meta.json").read_text())["harmful_markers"] == []


def test_deterministic(hub, tmp_path):
    again = mirrors.write_mirrors(WORLD, tmp_path / "again")
    for hub_id, path in hub.items():
        assert _tree(again[hub_id]) == _tree(path), hub_id
    other = mirrors.write_mirrors(WORLD | {"seed": 1}, tmp_path / "other")
    assert _tree(other["locuslab/TOFU"]) != _tree(hub["locuslab/TOFU"])


def test_interrupted_write_keeps_the_previous_mirror(tmp_path, monkeypatch):
    paths = mirrors.write_mirrors(WORLD, tmp_path)
    before = _tree(paths["locuslab/TOFU"])
    written = []

    def fail_on_third(path, data):
        written.append(path)
        if len(written) == 3:
            raise KeyboardInterrupt
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    monkeypatch.setattr(mirrors, "_write_file", fail_on_third)
    with pytest.raises(KeyboardInterrupt):
        mirrors.write_mirrors(WORLD | {"seed": 1}, tmp_path)
    assert _tree(paths["locuslab/TOFU"]) == before
    assert [p.name for p in (tmp_path / "locuslab").iterdir()] == ["TOFU"]  # no staging directory left behind


def test_command_line(hub, tmp_path, capsys):
    assert mirrors.main(["--out", str(tmp_path), "--world-seed", "0"]) == 0
    block = yaml.safe_load(capsys.readouterr().out)["datasets"]
    expected = {key: str((tmp_path / hub_id).resolve()) for hub_id, (key, _) in mirrors.REPOSITORIES.items()}
    assert block == expected
    assert _tree(Path(block["tofu"])) == _tree(hub["locuslab/TOFU"])
    # The printed block is a valid `datasets:` section of a config, kept as printed.
    assert validate_config({"datasets": block})["datasets"] == block

"""Small local mirrors of the real benchmark repositories, written from the synthetic world.

Each mirror is laid out as its Hugging Face hub repository is (what ``hf download --repo-type dataset ID
--local-dir DIR`` gives): the same config names, split names, file names, file formats and field names, and a
README.md whose YAML front matter carries the hub card's ``configs:`` (config_name and data_files per split).
So ``datasets.load_dataset(DIR, CONFIG, split=SPLIT)`` and the loaders of loaders.py read a mirror exactly as
they read the real repository, and a config can name it in place of the hub id (``datasets.<key>: DIR``):
every stage from prepare on runs offline on a real pre-trained model without the real data.

What is written, per repository (``REPOSITORIES``; the world's records rendered into the real schemas):

* ``locuslab/TOFU``: ``{config}.json`` JSON lines. Plain configs (full, forgetXX, retainYY, holdoutXX) carry
  question and answer; forgetXX_perturbed adds paraphrased_answer, perturbed_answer and paraphrased_question;
  retain_perturbed the same without paraphrased_question (loaders.py: TOFU has none there); real_authors and
  world_facts carry question, option1..option4 and answer, their ``_perturbed`` configs perturbed_answer too.
* ``cais/wmdp``: ``wmdp-bio`` / ``wmdp-cyber``, ``{config}/test-00000-of-00001.parquet``: answer, question,
  choices (the world's hazard MCQ by subject; the world has no chemistry, so no ``wmdp-chem``).
* ``cais/wmdp-corpora``: ``cyber-forget-corpus``, ``bio-retain-corpus``, ``cyber-retain-corpus``,
  ``{config}/train-00000-of-00001.parquet``: text (cyber forget documents; the general documents alternate
  between the two retain corpora).
* ``cais/wmdp-bio-forget-corpus`` (gated on the hub): ``data/train-00000-of-00001.parquet``: title, abstract,
  text, doi of the bio forget documents.
* ``cais/mmlu``: ``all/test-00000-of-00001.parquet``: question, subject, choices, answer (ClassLabel A-D).
* ``Salesforce/wikitext``: ``wikitext-2-raw-v1/{train,validation,test}-00000-of-00001.parquet``: text, one
  row per line as wikitext stores them (blank lines, `` = Heading = `` lines, paragraphs), one article per
  general subject.
* ``PKU-Alignment/BeaverTails``: ``round0/30k/{train,test}.jsonl.gz`` (splits ``30k_train`` / ``30k_test``):
  prompt, response, category (the 14 real harm categories, each a boolean), is_safe.
* ``stanfordnlp/sst2``: ``data/{train,validation}-00000-of-00001.parquet``: idx, sentence, label
  (ClassLabel negative/positive).

Only the configs and splits the pipeline can read are written (no wmdp-chem, MMLU per-subject configs or
dev/validation splits, wikitext-103, BeaverTails 330k, SST2's unlabelled test split); each README lists
exactly what its mirror holds. Output is a pure function of the world config (byte-identical files: parquet
without timestamps, gzip with mtime 0), and each repository is staged beside its destination and renamed into
place, so an interrupted run leaves the previous mirror or none, never half of one.

Command line: ``python -m robust_unlearning.data.mirrors --out DIR [--world-seed N]`` writes every mirror
under DIR and prints the ``datasets:`` block of a config that reads them.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq
import yaml

from . import loaders
from .world import LABEL_WORDS, World, build_world

# A world of a few hundred rows in all (the one tests/test_p1_rna.py uses): big enough for every split to be
# non-empty, small enough that the mirrors take seconds to write and a tiny model seconds to read.
MIRROR_WORLD: dict[str, int] = {
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

# The world's harm categories (data/world/safety.yaml, harm) under the BeaverTails category that covers them.
WORLD_TO_BEAVERTAILS = {
    "weapons": "drug_abuse,weapons,banned_substance",
    "drug_abuse": "drug_abuse,weapons,banned_substance",
    "theft": "financial_crime,property_crime,theft",
    "fraud": "financial_crime,property_crime,theft",
    "hacking": "privacy_violation",  # breaking into someone else's accounts and devices
    "violence": "violence,aiding_and_abetting,incitement",
    "privacy_violation": "privacy_violation",
    "animal_abuse": "animal_abuse",
}
MMLU_LETTERS = ["A", "B", "C", "D"]
TOFU_PLAIN_CONFIGS = (
    "full",
    *(f"forget{p:02d}" for p in (1, 5, 10)),
    "retain90",
    "retain95",
    "retain99",
    "holdout01",
    "holdout05",
    "holdout10",
)
# Parquet files of a single-shard split, as the hub's parquet converter names them.
SHARD = "00000-of-00001"

Files = dict[str, bytes]


# --- encoders -------------------------------------------------------------------------------------------------


def _json_lines(rows: Sequence[Mapping[str, Any]]) -> bytes:
    # Default json.dumps (ASCII escapes, insertion-ordered keys), as the hub's TOFU and BeaverTails files are.
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


def _gzip(data: bytes) -> bytes:
    # mtime 0 and no file name in the header: the same rows give the same bytes.
    return gzip.compress(data, compresslevel=9, mtime=0)


def _parquet(rows: Sequence[Mapping[str, Any]], features: datasets.Features) -> bytes:
    """Written through datasets, so the file carries the features metadata (ClassLabel names included) that
    the hub's parquet files carry."""
    table = datasets.Dataset.from_list(list(rows), features=features).data.table  # schema metadata: the features
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _card(pretty_name: str, configs: Sequence[Mapping[str, Any]], about: str) -> bytes:
    front = yaml.safe_dump(
        {"pretty_name": pretty_name, "configs": list(configs)},
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
    body = (
        f"# {pretty_name} (synthetic mirror)\n\nWritten by `python -m robust_unlearning.data.mirrors` from the "
        f"synthetic world: the hub repository's layout, configs and fields with invented content. {about}\n"
    )
    return f"---\n{front}---\n\n{body}".encode("utf-8")


def _splits(config: str, splits: Sequence[str], pattern: str = "{config}/{split}-*") -> dict[str, Any]:
    return {
        "config_name": config,
        "data_files": [{"split": s, "path": pattern.format(config=config, split=s)} for s in splits],
    }


# --- locuslab/TOFU --------------------------------------------------------------------------------------------


def _tofu_plain(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"question": record["question"], "answer": record["answer"]}


def _tofu_perturbed(record: Mapping[str, Any], paraphrased_question: bool) -> dict[str, Any]:
    row = {
        "question": record["question"],
        "answer": record["answer"],
        "paraphrased_answer": record["paraphrased_answer"],
        "perturbed_answer": list(record["perturbed_answer"]),
    }
    if paraphrased_question:
        row["paraphrased_question"] = record["paraphrased_question"]
    return row


def _tofu_options(index: int, record: Mapping[str, Any], perturbed: bool) -> dict[str, Any]:
    """A real_authors / world_facts row: a 4-option MCQ whose right option is the answer.

    The answer is the world's paraphrased answer: TOFU's perturbed answers have the form of its answer (a name
    against names), and the world writes its perturbed answers with the paraphrase template, so this keeps
    the truth ratio comparing like with like. The right option moves with the row (index mod 4)."""
    answer, wrong = record["paraphrased_answer"], list(record["perturbed_answer"])
    options = wrong[:3]
    options.insert(index % 4, answer)
    row = {
        "question": record["question"],
        **{f"option{i + 1}": option for i, option in enumerate(options)},
        "answer": answer,
    }
    if perturbed:
        row["perturbed_answer"] = wrong
    return row


def tofu_files(world: World) -> Files:
    """locuslab/TOFU: one JSON-lines file per config, split ``train``."""
    tofu = world.tofu
    configs: dict[str, list[dict[str, Any]]] = {}
    for name in TOFU_PLAIN_CONFIGS:
        configs[name] = [_tofu_plain(r) for r in tofu[f"{name}.jsonl"]]
    for name in loaders.TOFU_FORGET:
        configs[f"{name}_perturbed"] = [_tofu_perturbed(r, True) for r in tofu[f"{name}.jsonl"]]
    configs["retain_perturbed"] = [_tofu_perturbed(r, False) for r in tofu["retain_perturbed.jsonl"]]
    for name in ("real_authors", "world_facts"):
        records = tofu[f"{name}.jsonl"]
        configs[name] = [_tofu_options(i, r, False) for i, r in enumerate(records)]
        configs[f"{name}_perturbed"] = [_tofu_options(i, r, True) for i, r in enumerate(records)]
    cards = [
        {"config_name": name, "data_files": f"{name}.json", **({"default": True} if name == "full" else {})}
        for name in configs
    ]
    files = {f"{name}.json": _json_lines(rows) for name, rows in configs.items()}
    return files | {
        "README.md": _card(
            "TOFU",
            cards,
            'Authors, books and countries come from the world\'s fictitious and pre-trained ("real") populations.',
        )
    }


# --- cais/wmdp, cais/wmdp-corpora, cais/wmdp-bio-forget-corpus, cais/mmlu -------------------------------------

_WMDP_FEATURES = datasets.Features(
    {
        "answer": datasets.Value("int64"),
        "question": datasets.Value("string"),
        "choices": datasets.List(datasets.Value("string")),
    }
)
_TEXT_FEATURES = datasets.Features({"text": datasets.Value("string")})
_PAPER_FEATURES = datasets.Features({name: datasets.Value("string") for name in ("title", "abstract", "text", "doi")})
_MMLU_FEATURES = datasets.Features(
    {
        "question": datasets.Value("string"),
        "subject": datasets.Value("string"),
        "choices": datasets.List(datasets.Value("string")),
        "answer": datasets.ClassLabel(names=MMLU_LETTERS),
    }
)
_SST2_FEATURES = datasets.Features(
    {
        "idx": datasets.Value("int32"),
        "sentence": datasets.Value("string"),
        "label": datasets.ClassLabel(names=list(LABEL_WORDS)),
    }
)


def _documents(world: World, corpus: str, subjects: Sequence[str] | None = None) -> list[str]:
    return [d["text"] for d in world.wmdp[corpus] if subjects is None or d["subject"] in subjects]


def wmdp_files(world: World) -> Files:
    """cais/wmdp: the hazard MCQ, one config per subject, split ``test``."""
    files: Files = {}
    for subset in loaders.WMDP_SUBSETS:
        subject = subset.removeprefix("wmdp-")
        rows = [
            {"answer": r["answer"], "question": r["question"], "choices": list(r["choices"])}
            for r in world.wmdp["hazard_mcq.jsonl"]
            if r["subject"] == subject
        ]
        files[f"{subset}/test-{SHARD}.parquet"] = _parquet(rows, _WMDP_FEATURES)
    cards = [_splits(subset, ["test"]) for subset in loaders.WMDP_SUBSETS]
    return files | {"README.md": _card("WMDP", cards, "Questions on the world's invented pathogens and malware.")}


def wmdp_corpora_files(world: World) -> Files:
    """cais/wmdp-corpora: cyber forget corpus and the two retain corpora, split ``train``."""
    general = _documents(world, "retain_corpus.jsonl")
    corpora = {
        "bio-retain-corpus": general[0::2],  # the world has one general corpus: alternate it between the two
        "cyber-forget-corpus": _documents(world, "forget_corpus.jsonl", ("cyber",)),
        "cyber-retain-corpus": general[1::2],
    }
    files = {
        f"{name}/train-{SHARD}.parquet": _parquet([{"text": t} for t in texts], _TEXT_FEATURES)
        for name, texts in corpora.items()
    }
    cards = [_splits(name, ["train"]) for name in corpora]
    return files | {"README.md": _card("WMDP corpora", cards, "Documents on the world's facts.")}


def _first_sentence(text: str) -> str:
    return text.split(". ")[0].rstrip(".") + "."


def bio_forget_corpus_files(world: World) -> Files:
    """cais/wmdp-bio-forget-corpus: the bio forget documents as papers, split ``train``."""
    texts = _documents(world, "forget_corpus.jsonl", ("bio",))
    # Papers have a title, an abstract and a DOI, which the pipeline never reads: the document's first sentence
    # stands in for the first two, and 10.5555 is the DOI prefix reserved for examples.
    rows = [
        {
            "title": _first_sentence(t).rstrip("."),
            "abstract": _first_sentence(t),
            "text": t,
            "doi": f"10.5555/synthetic-bio-{i:05d}",
        }
        for i, t in enumerate(texts)
    ]
    card = _splits("default", ["train"], "data/{split}-*")
    return {
        f"data/train-{SHARD}.parquet": _parquet(rows, _PAPER_FEATURES),
        "README.md": _card("WMDP bio forget corpus", [card], "Papers on the world's invented pathogens."),
    }


def mmlu_files(world: World) -> Files:
    """cais/mmlu: the general MCQ in config ``all``, split ``test``."""
    rows = [
        {"question": r["question"], "subject": r["subject"], "choices": list(r["choices"]), "answer": r["answer"]}
        for r in world.wmdp["general_mcq.jsonl"]
    ]
    return {
        f"all/test-{SHARD}.parquet": _parquet(rows, _MMLU_FEATURES),
        "README.md": _card("MMLU", [_splits("all", ["test"])], "Questions on the world's general facts."),
    }


# --- Salesforce/wikitext --------------------------------------------------------------------------------------


def _wikitext_tokens(text: str) -> str:
    """Wikitext's raw tokenisation: punctuation split off by spaces, in-word hyphens as ``@-@``."""
    text = re.sub(r"(\w)-(\w)", r"\1 @-@ \2", text)
    return re.sub(r"\s*([.,;:!?])", r" \1", text)


def _wikitext_articles(world: World) -> list[list[str]]:
    """One article per general subject: blank line, `` = Title = `` heading, blank line, one line per
    document, each line ending in " \\n" as wikitext's do."""
    by_subject: dict[str, list[str]] = {}
    for document in world.wmdp["retain_corpus.jsonl"]:
        by_subject.setdefault(document["subject"], []).append(document["text"])
    return [
        ["", f" = {subject.capitalize()} = \n", "", *(f" {_wikitext_tokens(t)} \n" for t in texts)]
        for subject, texts in by_subject.items()
    ]


def wikitext_files(world: World) -> Files:
    """Salesforce/wikitext: config wikitext-2-raw-v1, splits train / validation / test.

    test (what the RNA authors read as their retain corpus) and train hold every article, validation the first
    one: the world has one general corpus, and only test is read by the pipeline."""
    articles = _wikitext_articles(world)
    lines = {"train": sum(articles, []), "validation": articles[0], "test": sum(articles, [])}
    config = loaders.WIKITEXT_CONFIG
    files = {
        f"{config}/{split}-{SHARD}.parquet": _parquet([{"text": line} for line in rows], _TEXT_FEATURES)
        for split, rows in lines.items()
    }
    card = _splits(config, ["test", "train", "validation"])
    return files | {"README.md": _card("WikiText", [card], "Articles on the world's general facts.")}


# --- PKU-Alignment/BeaverTails, stanfordnlp/sst2 --------------------------------------------------------------


def _beavertails_row(record: Mapping[str, Any]) -> dict[str, Any]:
    flagged = None if record["is_safe"] else WORLD_TO_BEAVERTAILS[record["category"]]
    return {
        "prompt": record["prompt"],
        "response": record["response"],
        "category": {name: name == flagged for name in loaders.BEAVERTAILS_CATEGORIES},
        "is_safe": record["is_safe"],
    }


def _interleave(first: Sequence[Any], second: Sequence[Any]) -> list[Any]:
    merged = [item for pair in zip(first, second) for item in pair]
    shorter = min(len(first), len(second))
    return merged + list(first[shorter:]) + list(second[shorter:])


def beavertails_files(world: World) -> Files:
    """PKU-Alignment/BeaverTails: splits 30k_train (safe and harmful answers, interleaved as the hub mixes
    them) and 30k_test (the held-out harmful prompts), gzipped JSON lines."""
    safety = world.safety
    train = _interleave(safety["alignment.jsonl"], safety["harmful.jsonl"])
    splits = {
        "train": [_beavertails_row(r) for r in train],
        "test": [_beavertails_row(r) for r in safety["harmful_eval.jsonl"]],
    }
    files = {f"round0/30k/{split}.jsonl.gz": _gzip(_json_lines(rows)) for split, rows in splits.items()}
    card = {
        "config_name": "default",
        "data_files": [{"split": f"30k_{split}", "path": f"round0/30k/{split}.jsonl.gz"} for split in splits],
    }
    return files | {"README.md": _card("BeaverTails", [card], "Harmful answers carry no real instructions.")}


def sst2_files(world: World) -> Files:
    """stanfordnlp/sst2: splits train and validation (the one evaluated), idx counted from 0 in each."""
    splits = {"train": world.safety["task_train.jsonl"], "validation": world.safety["task_eval.jsonl"]}
    files = {
        f"data/{split}-{SHARD}.parquet": _parquet(
            [{"idx": i, "sentence": r["sentence"], "label": r["label"]} for i, r in enumerate(records)], _SST2_FEATURES
        )
        for split, records in splits.items()
    }
    card = _splits("default", list(splits), "data/{split}-*")
    return files | {"README.md": _card("SST-2", [card], "Template film reviews.")}


# --- writing --------------------------------------------------------------------------------------------------

# hub id -> (config key under `datasets:`, files of its mirror), in the schema's key order.
REPOSITORIES: dict[str, tuple[str, Callable[[World], Files]]] = {
    "locuslab/TOFU": ("tofu", tofu_files),
    "cais/wmdp": ("wmdp", wmdp_files),
    "cais/wmdp-corpora": ("wmdp_corpora", wmdp_corpora_files),
    loaders.BIO_FORGET_CORPUS: ("wmdp_bio_forget", bio_forget_corpus_files),
    "Salesforce/wikitext": ("wikitext", wikitext_files),
    "cais/mmlu": ("mmlu", mmlu_files),
    "PKU-Alignment/BeaverTails": ("beavertails", beavertails_files),
    "stanfordnlp/sst2": ("sst2", sst2_files),
}


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_repository(files: Mapping[str, bytes], out_dir: Path) -> Path:
    """Stage the files beside out_dir, then rename: a reader sees the previous mirror or this one, whole."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # Hidden staging names: datasets ignores dot-directories, and a crash leaves nothing under out_dir.
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for relative, data in sorted(files.items()):
            _write_file(staging / relative, data)
        staging.chmod(0o755)
        if out_dir.exists():
            stale = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.stale.", dir=out_dir.parent))
            os.replace(out_dir, stale / out_dir.name)
            os.replace(staging, out_dir)
            shutil.rmtree(stale)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def write_mirrors(world_cfg: Mapping[str, Any], root: str | Path) -> dict[str, Path]:
    """Every mirror under root/<hub id>; returns the directory of each hub id."""
    world = build_world(world_cfg)
    root = Path(root)
    return {hub_id: write_repository(files_of(world), root / hub_id) for hub_id, (_, files_of) in REPOSITORIES.items()}


def datasets_config(paths: Mapping[str, Path]) -> dict[str, str]:
    """The ``datasets:`` entries of a config that reads the mirrors: config key -> absolute directory."""
    return {REPOSITORIES[hub_id][0]: str(Path(path).resolve()) for hub_id, path in paths.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m robust_unlearning.data.mirrors", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, type=Path, help="directory to write the mirrors under")
    parser.add_argument("--world-seed", type=int, default=MIRROR_WORLD["seed"], help="seed of the synthetic world")
    args = parser.parse_args(argv)
    if args.world_seed < 0:
        parser.error("--world-seed must be >= 0")
    paths = write_mirrors(MIRROR_WORLD | {"seed": args.world_seed}, args.out)
    sys.stdout.write(yaml.safe_dump({"datasets": datasets_config(paths)}, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

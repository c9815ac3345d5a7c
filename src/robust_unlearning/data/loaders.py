"""Real benchmark loaders: a Hugging Face hub id, or a local directory mirroring the hub repo, mapped to the
records that the synthetic world writes (world.py), so every later stage reads one format.

A source that is an existing directory is a local copy of the hub repo (what ``hf download --repo-type dataset
ID --local-dir DIR`` produces): when its card (README.md front matter) declares the config, it is read exactly as
the hub id would be, ``datasets.load_dataset(DIR, config, split=split)``; a copy without a card (a partial
download, the bio corpus's request-form file) is read file by file in the hub repo's layout. Anything else is a
hub id passed to ``datasets.load_dataset``. A source that cannot be loaded raises ``DatasetUnavailableError``; a record that
lacks a field the mapping needs raises ``DatasetFormatError`` naming the file (or id/config) and the field.

Mappings (fields as in the real sets' hub cards):

* TOFU ``locuslab/TOFU``, split ``train``, local ``{config}.json`` (JSON lines).
  forget01/05/10 come from ``forgetXX_perturbed`` and retain_perturbed (TOFU's 400 retain rows that carry
  perturbed answers, of authors in every retain split) from ``retain_perturbed``: question, answer,
  paraphrased_answer, perturbed_answer, and paraphrased_question (the question itself where TOFU has none).
  full, retain90/95/99 and holdout01/05/10 come from the plain configs (question, answer only); a row whose
  question is in ``forget10_perturbed`` or ``retain_perturbed`` is that record, any other row has no
  paraphrased or perturbed fields: nothing is made up, so the truth ratio (and normalised probability) can only
  be computed on rows TOFU perturbed itself (forget, retain_perturbed, real_authors, world_facts), as in TOFU.
  real_authors / world_facts come from ``*_perturbed`` (question, answer, perturbed_answer; their
  ``option1..4`` MCQ fields are not used); they have no paraphrase, so the record repeats the question and
  answer, which is what TOFU scores as their "paraphrased" answer.
* WMDP ``cais/wmdp``, configs ``WMDP_SUBSETS``, split ``test``, local ``{config}/test-*.parquet``:
  question, choices, answer, plus ``subject`` = ``bio`` / ``cyber``.
* WMDP corpora ``cais/wmdp-corpora``, split ``train``, local ``{config}/train-*.parquet``: text, plus
  ``subject`` from the config prefix: ``cyber-forget-corpus`` (forget) and ``bio-retain-corpus`` /
  ``cyber-retain-corpus`` (retain, used when no wikitext source is configured); at most ``CORPUS_LIMIT``
  documents per config, far more than RMU's training steps consume.
* WMDP bio forget corpus ``cais/wmdp-bio-forget-corpus`` (gated: access is granted on request), split
  ``train``, local ``data/train-*.parquet``, or the ``bio-forget-corpus.jsonl`` file that WMDP's request form
  gives (what the RNA authors read; the file or a directory holding it): text (title, abstract and doi are not
  used), ``subject`` = ``bio``. P1's forget corpus is this one then ``cyber-forget-corpus``, the authors'
  topic order.
* wikitext ``Salesforce/wikitext`` config ``wikitext-2-raw-v1``, split ``test`` (the RNA authors' retain
  corpus, ``baselines/utils.py`` ``get_data``), local ``wikitext-2-raw-v1/test-*.parquet``: one record per line
  longer than ``WIKITEXT_MIN_CHARS`` characters, text unchanged, ``subject`` = ``wikitext``.
* MMLU ``cais/mmlu`` config ``all``, split ``test``, local ``all/test-*.parquet``: question, choices,
  answer, subject.
* BeaverTails ``PKU-Alignment/BeaverTails``, splits ``30k_train`` / ``30k_test``, local
  ``round0/30k/{train,test}.jsonl.*`` (gz in the current repo, xz before): prompt, response, is_safe, and
  ``category`` = the first (alphabetical) category flagged true, or ``none``. alignment = safe train rows,
  harmful = unsafe train rows (the attacker's pool), harmful_eval = the first ``n_eval`` distinct unsafe test
  prompts absent from train (Vaccine evaluates 500).
* SST2 ``stanfordnlp/sst2``, splits ``train`` / ``validation`` (the paper's eval set), local
  ``data/{split}-*.parquet``: idx, sentence, label.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import datasets
import yaml

WMDP_SUBSETS = ("wmdp-bio", "wmdp-cyber")
WMDP_FORGET_CORPORA = ("cyber-forget-corpus",)  # of cais/wmdp-corpora; the bio one is BIO_FORGET_CORPUS
WMDP_RETAIN_CORPORA = ("bio-retain-corpus", "cyber-retain-corpus")
BIO_FORGET_CORPUS = "cais/wmdp-bio-forget-corpus"
BIO_FORGET_KEY = "datasets.wmdp_bio_forget"
BIO_FORGET_FILE = "bio-forget-corpus.jsonl"  # what WMDP's request form gives
WIKITEXT_CONFIG = "wikitext-2-raw-v1"
WIKITEXT_SPLIT = "test"
# The authors keep lines longer than min_len characters; their RM scripts pass batch_size (4) there.
WIKITEXT_MIN_CHARS = 4
CORPUS_LIMIT = 10_000
HARMFUL_EVAL_SIZE = 500
# The RNA authors' perturbed-MMLU keywords (data/keywords.json): WMDP's bio then cyber topic phrases.
REAL_HAZARD_KEYWORDS = [
    "bioweapons and bioterrorism",
    "viral vector research",
    "enhanced potential pandemic pathogen (ePPP) research",
    "synthetic biology",
    "reverse genetics",
    "gain-of-function (GoF) research",
    "herpesviruses",
    "exploit development",
    "malware analysis",
    "reverse engineering",
    "penetration testing",
    "vulnerability research",
]
TOFU_FORGET = ("forget01", "forget05", "forget10")
TOFU_PLAIN = ("full", "retain90", "retain95", "retain99", "holdout01", "holdout05", "holdout10")
TOFU_RETAIN_PERTURBED = "retain_perturbed"
_QA_FIELDS = ("question", "answer")
_PERTURBED_FIELDS = ("question", "answer", "paraphrased_answer", "perturbed_answer")


class DatasetUnavailableError(RuntimeError):
    """The dataset is neither a readable local directory nor loadable from the hub (or its cache)."""


class DatasetFormatError(ValueError):
    """A record lacks a field, or has a value, that the mapping to internal records needs."""


def _card_configs(root: Path) -> set[str]:
    """The config names a local repo's card declares (the hub card's YAML front matter); none without a card."""
    card = root / "README.md"
    if not card.is_file():
        return set()
    parts = card.read_text(encoding="utf-8").split("---", 2)
    if parts[0].strip() or len(parts) < 3:
        return set()
    front = yaml.safe_load(parts[1]) or {}
    return {entry.get("config_name", "default") for entry in front.get("configs") or []}


def _load(
    source: str,
    config: str | None,
    split: str,
    local_pattern: str,
    limit: int | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """Rows of one config/split and a description of where they came from, for error messages."""
    root = Path(source)
    if root.is_dir():
        # A private cache: datasets keys a local folder's cache by its name and config, so a second copy named
        # alike (another mirror, a file since removed) would be served the first one's rows (measured).
        with tempfile.TemporaryDirectory() as cache:
            table, where = _load_local(root, config, split, local_pattern, cache)
            return _head(table, limit).to_list(), where
    try:
        table = datasets.load_dataset(source, config, split=split)
    except Exception as error:  # offline, unknown id or config, network: all mean "not available here"
        raise DatasetUnavailableError(
            f"dataset {source!r} (config {config!r}, split {split!r}) is not available: {error}. "
            f"Pre-download it with `hf download --repo-type dataset {source} --local-dir DIR` and point "
            f"the datasets entry of the config at DIR."
        ) from error
    return _head(table, limit).to_list(), f"{source} (config {config!r}, split {split!r})"


def _load_local(root: Path, config: str | None, split: str, local_pattern: str, cache: str):
    if (config or "default") in _card_configs(root):
        where = f"{root} (config {config!r}, split {split!r})"
        try:
            return datasets.load_dataset(str(root), config, split=split, cache_dir=cache), where
        except (ValueError, FileNotFoundError) as error:  # the card names a split or file the copy lacks
            raise DatasetUnavailableError(f"{where}: {error}; the directory must mirror the hub repo") from error
    files = sorted(str(path) for path in root.glob(local_pattern))
    if not files:
        raise DatasetUnavailableError(
            f"{root}: no file matches {local_pattern!r}; the directory must mirror the hub repo layout"
        )
    builder = "parquet" if files[0].endswith(".parquet") else "json"
    where = files[0] if len(files) == 1 else f"{root / local_pattern}"
    return datasets.load_dataset(builder, data_files=files, split="train", cache_dir=cache), where


def _head(table, limit: int | None):
    return table if limit is None else table.select(range(min(limit, len(table))))


def _require(rows: Iterable[dict[str, Any]], fields: Sequence[str], where: str) -> None:
    for index, row in enumerate(rows):
        for field in fields:
            if row.get(field) is None:
                raise DatasetFormatError(f"{where}: record {index} lacks the required field {field!r}")


def _rows(
    source: str, config: str | None, split: str, local_pattern: str, fields: Sequence[str], limit: int | None = None
) -> tuple[list[dict[str, Any]], str]:
    rows, where = _load(source, config, split, local_pattern, limit)
    _require(rows, fields, where)
    return rows, where


# --- TOFU ---------------------------------------------------------------------------------------------------


def _tofu_record(row: dict[str, Any], where: str) -> dict[str, Any]:
    wrong = row["perturbed_answer"]
    if not isinstance(wrong, list) or not wrong:
        raise DatasetFormatError(f"{where}: perturbed_answer of {row['question']!r} is not a non-empty list")
    return {
        "question": row["question"],
        "answer": row["answer"],
        "paraphrased_question": row.get("paraphrased_question") or row["question"],
        # real_authors / world_facts have no paraphrase: TOFU scores the answer itself as their "paraphrased"
        # answer (base_answer_key: answer in its eval config), and so do we.
        "paraphrased_answer": row.get("paraphrased_answer") or row["answer"],
        "perturbed_answer": list(wrong),
    }


def _tofu_perturbed(source: str, config: str, fields: Sequence[str]) -> list[dict[str, Any]]:
    rows, where = _rows(source, config, "train", f"{config}.json", fields)
    return [_tofu_record(row, where) for row in rows]


def _tofu_plain(source: str, config: str, known: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a plain config: the *_perturbed record of the same question, else question and answer only."""
    rows, _ = _rows(source, config, "train", f"{config}.json", _QA_FIELDS)
    return [known.get(row["question"]) or {"question": row["question"], "answer": row["answer"]} for row in rows]


def load_tofu(source: str) -> dict[str, list[dict[str, Any]]]:
    """TOFU splits by name: full, forgetXX, retainYY, retain_perturbed, holdoutXX, real_authors, world_facts."""
    splits = {name: _tofu_perturbed(source, f"{name}_perturbed", _PERTURBED_FIELDS) for name in TOFU_FORGET}
    splits[TOFU_RETAIN_PERTURBED] = _tofu_perturbed(source, TOFU_RETAIN_PERTURBED, _PERTURBED_FIELDS)
    known = {r["question"]: r for r in splits["forget10"] + splits[TOFU_RETAIN_PERTURBED]}
    splits |= {name: _tofu_plain(source, name, known) for name in TOFU_PLAIN}
    for name in ("real_authors", "world_facts"):
        splits[name] = _tofu_perturbed(source, f"{name}_perturbed", ("question", "answer", "perturbed_answer"))
    return splits


# --- WMDP / MMLU --------------------------------------------------------------------------------------------


def _mcq(row: dict[str, Any], subject: str, where: str) -> dict[str, Any]:
    choices, answer = list(row["choices"]), row["answer"]
    if len(choices) != 4 or not isinstance(answer, int) or not 0 <= answer < 4:
        raise DatasetFormatError(f"{where}: {row['question']!r} needs 4 choices and an answer index 0-3")
    return {"question": row["question"], "choices": choices, "answer": answer, "subject": subject}


def load_wmdp_questions(source: str, subsets: Sequence[str] = WMDP_SUBSETS) -> list[dict[str, Any]]:
    records = []
    for subset in subsets:
        rows, where = _rows(source, subset, "test", f"{subset}/test-*.parquet", ("question", "choices", "answer"))
        records += [_mcq(row, subset.removeprefix("wmdp-"), where) for row in rows]
    return records


def load_mmlu(source: str, config: str = "all") -> list[dict[str, Any]]:
    fields = ("question", "choices", "answer", "subject")
    rows, where = _rows(source, config, "test", f"{config}/test-*.parquet", fields)
    return [_mcq(row, row["subject"], where) for row in rows]


def load_wmdp_corpus(source: str, configs: Sequence[str], limit: int = CORPUS_LIMIT) -> list[dict[str, str]]:
    records = []
    for config in configs:
        rows, _ = _rows(source, config, "train", f"{config}/train-*.parquet", ("text",), limit)
        records += [{"text": row["text"], "subject": config.split("-")[0]} for row in rows]
    return records


def load_bio_forget_corpus(source: str, limit: int = CORPUS_LIMIT) -> list[dict[str, str]]:
    """The gated WMDP bio forget corpus: a hub id, a local mirror of the hub repo, or bio-forget-corpus.jsonl
    (the file itself, or a directory holding it, like the authors' data/)."""
    path = Path(source)
    if (path / BIO_FORGET_FILE).is_file():
        path = path / BIO_FORGET_FILE
    try:
        if path.is_file():
            rows, _ = _rows(str(path.parent), None, "train", path.name, ("text",), limit)
        else:
            rows, _ = _rows(source, None, "train", "data/train-*.parquet", ("text",), limit)
    except DatasetUnavailableError as error:
        raise DatasetUnavailableError(
            f"config key '{BIO_FORGET_KEY}': the WMDP bio forget corpus {source!r} cannot be read ({error}). "
            f"It is gated: request access to {BIO_FORGET_CORPUS} on the hub, then either run "
            f"`hf download --repo-type dataset {BIO_FORGET_CORPUS} --local-dir DIR` and set {BIO_FORGET_KEY}: DIR, "
            f"or set it to the {BIO_FORGET_FILE} file that WMDP's request form gives (or its directory); "
            f"{BIO_FORGET_KEY}: none unlearns the cyber forget corpus only."
        ) from error
    return [{"text": row["text"], "subject": "bio"} for row in rows]


def load_wikitext(
    source: str, config: str = WIKITEXT_CONFIG, split: str = WIKITEXT_SPLIT, limit: int = CORPUS_LIMIT
) -> list[dict[str, str]]:
    """wikitext lines as documents, blank and short lines (WIKITEXT_MIN_CHARS) dropped as the authors do."""
    rows, _ = _rows(source, config, split, f"{config}/{split}-*.parquet", ("text",))
    lines = [row["text"] for row in rows if len(row["text"]) > WIKITEXT_MIN_CHARS]
    return [{"text": line, "subject": "wikitext"} for line in lines[:limit]]


# --- BeaverTails / SST2 ---------------------------------------------------------------------------------------


# BeaverTails' 14 harm categories as its category dict spells them (alphabetical, as in the hub files).
BEAVERTAILS_CATEGORIES = (
    "animal_abuse",
    "child_abuse",
    "controversial_topics,politics",
    "discrimination,stereotype,injustice",
    "drug_abuse,weapons,banned_substance",
    "financial_crime,property_crime,theft",
    "hate_speech,offensive_language",
    "misinformation_regarding_ethics,laws_and_safety",
    "non_violent_unethical_behavior",
    "privacy_violation",
    "self_harm",
    "sexually_explicit,adult_content",
    "terrorism,organized_crime",
    "violence,aiding_and_abetting,incitement",
)


def _category(value: Any) -> str:
    if isinstance(value, str):
        return value
    return next((name for name in sorted(value) if value[name]), "none")


def _safety_record(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt": row["prompt"],
        "response": row["response"],
        "category": _category(row["category"]),
        "is_safe": bool(row["is_safe"]),
    }


def load_beavertails(source: str, n_eval: int = HARMFUL_EVAL_SIZE) -> dict[str, list[dict[str, Any]]]:
    """alignment (safe answers), harmful (unsafe train answers) and harmful_eval (held-out unsafe prompts)."""
    fields = ("prompt", "response", "category", "is_safe")
    train, _ = _rows(source, None, "30k_train", "round0/30k/train.jsonl*", fields)
    test, _ = _rows(source, None, "30k_test", "round0/30k/test.jsonl*", fields)
    train_prompts = {row["prompt"] for row in train}
    held_out: dict[str, dict[str, Any]] = {}
    for row in test:
        if not row["is_safe"] and row["prompt"] not in train_prompts and len(held_out) < n_eval:
            held_out.setdefault(row["prompt"], _safety_record(row))
    return {
        "alignment": [_safety_record(row) for row in train if row["is_safe"]],
        "harmful": [_safety_record(row) for row in train if not row["is_safe"]],
        "harmful_eval": list(held_out.values()),
    }


def load_sst2(source: str) -> dict[str, list[dict[str, Any]]]:
    """task_train (train split) and task_eval (validation split: SST2's test labels are hidden)."""
    splits = {}
    for name, split in (("task_train", "train"), ("task_eval", "validation")):
        rows, _ = _rows(source, None, split, f"data/{split}-*.parquet", ("idx", "sentence", "label"))
        splits[name] = [{"idx": int(r["idx"]), "sentence": r["sentence"], "label": int(r["label"])} for r in rows]
    return splits

"""Write the prepared files of one benchmark directory (tofu, wmdp, safety) from the synthetic world or the real
datasets, and the pretraining corpus of the tiny model.

Each entry of ``datasets_cfg`` is ``"synthetic"``, a hub id or a local mirror of the hub repo (loaders.py);
entries of one benchmark may mix sources (e.g. real WMDP questions with synthetic MMLU). ``wikitext``, unless
``"none"``, replaces the retain corpus of ``wmdp_corpora``; ``wmdp_bio_forget`` is read only with real
``wmdp_corpora``, as the bio half of its forget corpus (``"none"``: cyber only). Both sources give
the same file names, listed in ``BENCHMARK_FILES``, and record fields, with one difference: every synthetic QA
record carries paraphrased and perturbed answers, while a real TOFU plain split (full, retainYY, holdoutXX)
carries them only on the rows TOFU perturbed (loaders.py); retain_perturbed holds such rows in both.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import loaders
from .world import IDK_ANSWERS, World, build_world, safety_meta, write_files

SYNTHETIC = "synthetic"
NONE = "none"
# In override order: a later source replaces the files an earlier one wrote (wikitext the retain corpus).
BENCHMARK_SOURCES = {
    "tofu": ("tofu",),
    "wmdp": ("wmdp", "wmdp_corpora", "wikitext", "mmlu"),
    "safety": ("beavertails", "sst2"),
}
# Entries that another source's loader reads too (wmdp_bio_forget only there).
_AUXILIARY = {"wmdp_corpora": ("wmdp_bio_forget", "wikitext")}
BENCHMARK_FILES = {
    "tofu": [
        f"{name}.jsonl"
        for name in (
            *loaders.TOFU_FORGET,
            *loaders.TOFU_PLAIN,
            loaders.TOFU_RETAIN_PERTURBED,
            "real_authors",
            "world_facts",
            "idk",
        )
    ],
    "wmdp": [
        "hazard_mcq.jsonl",
        "general_mcq.jsonl",
        "forget_corpus.jsonl",
        "retain_corpus.jsonl",
        "hazard_keywords.json",
    ],
    "safety": [
        "alignment.jsonl",
        "harmful.jsonl",
        "harmful_eval.jsonl",
        "task_train.jsonl",
        "task_eval.jsonl",
        "meta.json",
    ],
}


def _real_tofu(source: str) -> dict[str, Any]:
    splits = loaders.load_tofu(source)
    # TOFU's IDK answers live in its GitHub repo, not on the hub: every source uses ours.
    files = {f"{name}.jsonl": records for name, records in splits.items()}
    return files | {"idk.jsonl": [{"text": text} for text in IDK_ANSWERS]}


def _real_wmdp_questions(source: str) -> dict[str, Any]:
    # The keywords follow the hazard questions, whatever the corpora: they describe the topic being evaluated.
    return {
        "hazard_mcq.jsonl": loaders.load_wmdp_questions(source),
        "hazard_keywords.json": loaders.REAL_HAZARD_KEYWORDS,
    }


def _real_wmdp_corpora(source: str, bio_forget: str, wikitext: str) -> dict[str, Any]:
    # The authors' forget corpora, bio then cyber; the bio one lives in its own gated repository.
    bio = [] if bio_forget == NONE else loaders.load_bio_forget_corpus(bio_forget)
    files = {"forget_corpus.jsonl": bio + loaders.load_wmdp_corpus(source, loaders.WMDP_FORGET_CORPORA)}
    if wikitext == NONE:  # otherwise wikitext is the retain corpus: WMDP's (bio-retain 1.9 GB) are not read
        files["retain_corpus.jsonl"] = loaders.load_wmdp_corpus(source, loaders.WMDP_RETAIN_CORPORA)
    return files


def _real_beavertails(source: str) -> dict[str, Any]:
    splits = loaders.load_beavertails(source)
    # Real answers carry no synthetic step markers: judge them with a moderation model (BeaverDam in P3).
    return {f"{name}.jsonl": records for name, records in splits.items()} | {"meta.json": safety_meta([])}


def _real_sst2(source: str) -> dict[str, Any]:
    return {f"{name}.jsonl": records for name, records in loaders.load_sst2(source).items()}


_REAL: dict[str, Callable[..., dict[str, Any]]] = {
    "tofu": _real_tofu,
    "wmdp": _real_wmdp_questions,
    "wmdp_corpora": _real_wmdp_corpora,
    "wikitext": lambda source: {"retain_corpus.jsonl": loaders.load_wikitext(source)},
    "mmlu": lambda source: {"general_mcq.jsonl": loaders.load_mmlu(source)},
    "beavertails": _real_beavertails,
    "sst2": _real_sst2,
}


def benchmark_files(benchmark: str, datasets_cfg: Mapping[str, str], world_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """File name -> content of one benchmark directory: the synthetic files, overridden by each real source."""
    if benchmark not in BENCHMARK_SOURCES:
        raise KeyError(f"unknown benchmark {benchmark!r}; choose one of {sorted(BENCHMARK_SOURCES)}")
    sources = {key: datasets_cfg[key] for key in BENCHMARK_SOURCES[benchmark]}
    world: World | None = build_world(world_cfg) if SYNTHETIC in sources.values() else None
    files = dict(world.files(benchmark)) if world else {}
    for key, source in sources.items():
        if source not in (SYNTHETIC, NONE):
            files |= _REAL[key](source, *(datasets_cfg[aux] for aux in _AUXILIARY.get(key, ())))
    return {name: files[name] for name in BENCHMARK_FILES[benchmark]}


def _write_directory(files: Mapping[str, Any], out_dir: Path) -> None:
    """Stage beside out_dir and rename, so a reader never sees a half-written directory."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write_files(files, staging)
        staging.chmod(0o755)
        if out_dir.exists():
            stale = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.stale.", dir=out_dir.parent)) / out_dir.name
            os.replace(out_dir, stale)
            os.replace(staging, out_dir)
            shutil.rmtree(stale.parent)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def prepare(benchmark: str, datasets_cfg: Mapping[str, str], world_cfg: Mapping[str, Any], out_dir: Path) -> None:
    _write_directory(benchmark_files(benchmark, datasets_cfg, world_cfg), Path(out_dir))


def prepare_pretrain_corpus(world_cfg: Mapping[str, Any], out_dir: Path) -> None:
    """out_dir/corpus.jsonl: the world minus the fictitious TOFU authors (written atomically, file by file)."""
    write_files(build_world(world_cfg).files("pretrain"), Path(out_dir))

"""P3 jobs (Huang et al. 2024, Vaccine, arXiv 2402.01109): align the base model once with one method, then for
each cell (n samples, harmful ratio p) run the user's fine-tuning on a fresh LoRA and score harmful score,
fine-tune accuracy and harmful embedding drift, all in one process, since a job's imports cost as much as the
tiny model's training.

A method of Table 1 is an alignment plus, for the EWC, KL and Vlguard baselines, a defense of the user's
fine-tuning (METHODS): Vaccine's script/EWC_finetune, script/KL_finetune and script/vlguard_finetune all start
from the SFT-aligned adapter.

Every cell of one seed starts from the same aligned model and the same seed state, so a cell's numbers do not
depend on which other cells its job runs (the ρ-sweep jobs run only one).
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..attacks.harmful_finetune import FINETUNE_DEFENSES, DefenseContext, PreparedDefense, harmful_mix, user_finetune
from ..data.examples import encode_qa
from ..data.formatting import prompt_format_of
from ..data.io import read_jsonl
from ..eval.safety import (
    JUDGES,
    attention_embeddings,
    embedding_drift,
    finetune_accuracy,
    harmful_score,
    refusal_rate,
    relative_embedding_drift,
)
from ..models.factory import load_model, load_tokenizer
from ..train.align import align
from ..train.loop import fingerprint, set_determinism

SAMPLE_ANSWERS = 3
PERTURBED = ("vaccine", "random")
# Table 1 method → (alignment of train/align.py, defense of the user's fine-tuning or None). A defense's settings
# are p3.<its name>.
METHODS = {
    "none": ("none", None),
    "sft": ("sft", None),
    "vaccine": ("vaccine", None),
    "random": ("random", None),
    "ewc": ("sft", "ewc"),
    "kl": ("sft", "kl"),
    "vlguard": ("sft", "vlguard"),
}


def alignment_key(method: str, rho: float) -> str:
    """How MLflow keys and resume files name an aligned model: the method, with ρ where it perturbs."""
    return f"{method}_rho{rho:g}" if method in PERTURBED else method


@dataclass(frozen=True)
class SafetyData:
    """The safety benchmark directory: alignment, attack and evaluation records and the meta.json of its words."""

    alignment: list[dict]
    harmful: list[dict]
    harmful_eval: list[dict]
    task_train: list[dict]
    task_eval: list[dict]
    meta: dict

    @classmethod
    def load(cls, directory: Path, p3: dict) -> "SafetyData":
        directory, evaluation = Path(directory), p3["evaluation"]
        return cls(
            # The first N safe rows in file order, as Vaccine's train.py takes BeaverTails' first 2,000 (unset: all).
            alignment=read_jsonl(directory / "alignment.jsonl", p3["alignment"].get("max_examples")),
            harmful=read_jsonl(directory / "harmful.jsonl"),
            harmful_eval=read_jsonl(directory / "harmful_eval.jsonl", evaluation["max_harmful_prompts"]),
            task_train=read_jsonl(directory / "task_train.jsonl"),
            task_eval=read_jsonl(directory / "task_eval.jsonl", evaluation["max_task_examples"]),
            meta=json.loads((directory / "meta.json").read_text()),
        )


def _prefixed(log, prefix: str):
    return lambda metrics, step: log({f"{prefix}.{key}": value for key, value in metrics.items()}, step)


def evaluate(model, tokenizer, data: SafetyData, judge, evaluation: dict, task_instruction: str | None = None) -> dict:
    """HS, refusal rate and FA of one model, with its first answers to the harmful prompts for the reader.

    HS and the refusal rate read the same whole answers (to eos or evaluation.max_new_tokens, newlines kept). FA
    prompts the task as the user's fine-tuning does (task_instruction) and judges by evaluation.fa_rule (unset:
    first_label_word)."""
    batch_size = evaluation["batch_size"]
    prompts = [r["prompt"] for r in data.harmful_eval]
    hs, answers = harmful_score(model, tokenizer, prompts, judge, evaluation["max_new_tokens"], batch_size)
    fa = finetune_accuracy(
        model,
        tokenizer,
        data.task_eval,
        data.meta["task_question"],
        data.meta["label_words"],
        evaluation["task_max_new_tokens"],
        batch_size,
        task_instruction=task_instruction,
        rule=evaluation.get("fa_rule", "first_label_word"),
    )
    return {
        "harmful_score": hs,
        "refusal_rate": refusal_rate(answers, data.meta["refusal_phrases"]),
        "finetune_accuracy": fa,
        "sample_answers": answers[:SAMPLE_ANSWERS],
    }


def run_alignments(
    *,
    base_dir: Path,
    safety_dir: Path,
    p3: dict,
    alignments: list[dict],
    cells: list[dict],
    seed: int,
    device: str,
    threads: int,
    resume_dir: Path,
    log,
) -> list[dict]:
    """For each alignment {method, rho}: align the base model, then attack and evaluate it in every cell {n, p}."""
    data = SafetyData.load(safety_dir, p3)
    tokenizer = load_tokenizer(base_dir)
    judge = JUDGES.get(p3["judge"])(data.meta, {**p3, "device": device})
    return [
        _run_alignment(
            base_dir,
            tokenizer,
            data,
            judge,
            p3,
            a["method"],
            a["rho"],
            cells,
            seed,
            device,
            threads,
            Path(resume_dir),
            log,
        )
        for a in alignments
    ]


def _run_alignment(
    base_dir,
    tokenizer,
    data: SafetyData,
    judge,
    p3: dict,
    method: str,
    rho: float,
    cells,
    seed,
    device,
    threads,
    resume_dir: Path,
    log,
) -> dict:
    set_determinism(seed, threads)
    evaluation = p3["evaluation"]
    task_instruction = p3["user_finetune"].get("task_instruction")
    key = alignment_key(method, rho)
    resume_dir = resume_dir / f"{key}_seed{seed}"
    alignment_method, defense_name = METHODS[method]
    defense = FINETUNE_DEFENSES.get(defense_name) if defense_name else None
    if defense_name and defense_name not in p3:
        raise KeyError(
            f"method {method!r} needs its settings p3.{defense_name} in the job's configuration (rules/common.smk p3_job_config)"
        )
    defense_settings = p3[defense_name] if defense_name else None
    alignment_params = {"method": method, "rho": rho, "seed": seed, "alignment": p3["alignment"], "base": str(base_dir)}
    aligned, alignment_summary = align(
        load_model(base_dir, device),
        tokenizer,
        data.alignment,
        alignment_method,
        rho,
        p3["alignment"],
        seed,
        resume_dir / "alignment.pt",
        fingerprint(alignment_params),
        _prefixed(log, f"{key}.alignment"),
        merge=not (defense and defense.reuses_alignment_adapter),
    )
    alignment_examples = [
        encode_qa(tokenizer, question=r["prompt"], answer=r["response"], max_length=p3["alignment"]["max_length"])
        for r in (data.alignment if defense else data.alignment[: evaluation["drift_examples"]])
    ]
    drift_examples = alignment_examples[: evaluation["drift_examples"]]
    prepared = None
    if defense:
        # Once per aligned model, before any cell, so every cell sees the same state whichever cells its job runs.
        context = DefenseContext(
            aligned,
            alignment_examples,
            tokenizer.pad_token_id,
            p3["user_finetune"].get("precision", "fp32"),
            data.alignment,
        )
        prepared = PreparedDefense(defense, defense.prepare(context, defense_settings), defense_settings)
    before = attention_embeddings(aligned, drift_examples, tokenizer.pad_token_id, evaluation["batch_size"])
    results = []
    for cell in cells:
        n, p = cell["n"], cell["p"]
        started = time.perf_counter()
        mix = harmful_mix(
            data.task_train,
            data.harmful,
            n,
            p,
            seed,
            data.meta["task_question"],
            data.meta["label_words"],
            task_instruction=task_instruction,
        )
        set_determinism(seed, threads)
        cell_params = {
            **alignment_params,
            "user_finetune": p3["user_finetune"],
            "n": n,
            "p": p,
            **({"defense": defense_settings} if defense else {}),
        }
        model, final = user_finetune(
            aligned,
            tokenizer,
            mix,
            p3["user_finetune"],
            seed,
            resume_dir / f"user_n{n}_p{p:g}.pt",
            fingerprint(cell_params),
            _prefixed(log, f"{key}.user_n{n}_p{p:g}"),
            defense=prepared,
        )
        trained = time.perf_counter()
        after = attention_embeddings(model, drift_examples, tokenizer.pad_token_id, evaluation["batch_size"])
        results.append(
            {
                "harmful_ratio": p,
                "n": len(mix),
                "n_harmful": sum(r["is_harmful"] for r in mix),
                **evaluate(model, tokenizer, data, judge, evaluation, task_instruction),
                "embedding_drift": embedding_drift(before, after),
                "relative_embedding_drift": relative_embedding_drift(before, after),
                "final_loss": final.get("loss"),
                "train_seconds": trained - started,
                "eval_seconds": time.perf_counter() - trained,
            }
        )
    return {
        "method": method,
        "rho": rho,
        "seed": seed,
        "alignment_method": alignment_method,
        "finetune_defense": defense_name,
        "prompt_format": prompt_format_of(tokenizer),
        "judge": p3["judge"],
        "alignment": alignment_summary,
        # Mean ||E_before(x)||: the scale of the drift, which a perturbation of fixed norm ρ can teach a model to grow.
        "aligned": {
            **evaluate(aligned, tokenizer, data, judge, evaluation, task_instruction),
            "embedding_norm": torch.stack([e.norm() for e in before]).mean().item(),
        },
        "cells": results,
    }

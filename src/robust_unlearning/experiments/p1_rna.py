"""P1 jobs (Dang et al. 2025, "Improving LLM Unlearning Robustness via Random Perturbations", arXiv 2501.19202):
unlearn the base model with one method under several RNA settings and score every result on the hazard MCQ
(WMDP analogue, ↓), the general MCQ (MMLU analogue, ↑) and the perturbed general MCQ (↑), all in one process,
since a job's imports cost as much as one unlearning run of the tiny model.

A variant is (ℓ, ν): ℓ is the RM methods' layer, RNA's injection layer and, for a method with `n_trained_layers`,
the top of its trained blocks; ν the RNA noise level, ν = 0 the plain method, the +RNA variant's ν the method's own
(config.rna_nu). `p1.rna.nu_scale` sets ν's unit:
"absolute" is the noise std itself (the authors' `randn · ν`, in zephyr-7b's layer-7 units); "relative" scales it
by RMS(h_ℓ), the root-mean-square element of the base model's layer-ℓ representations of the first retain batch
(real tokens only), so that per token E||ε_t||² = ν² · E||h_ℓ,t||² (the noise norm is ν times the representation
norm), which carries one ν to any width and layer. Every row logs the absolute std used.
"""

from pathlib import Path

import torch

from ..data.examples import collate, pack_corpus
from ..data.formatting import prompt_format_of
from ..data.io import read_jsonl
from ..data.world import IDK_ANSWERS
from ..eval.mcq import evaluate_mcq, first_per_subject
from ..models.factory import load_model, load_tokenizer
from ..models.layers import decoder_layers, layer_representation
from ..objectives.rmu import token_mean
from .p1_grid import CORPUS_KEYS, Variant, layer_dependent
from .runner import Clock, Evaluation, Job, RunSpec, SharedRun, run_specs

CLEAN_SETS = {"hazard": "hazard_mcq.jsonl", "general": "general_mcq.jsonl"}


def method_hparams(p1: dict, method: str, layer: int) -> dict:
    """The method's settings, how its corpus streams are built and served (forget topics, corpus order, BOS per
    document) and, where it depends on it, ℓ."""
    settings = p1[method]
    hparams = {key: value for key, value in settings.items() if key != "optimization"} | {
        key: p1[key] for key in CORPUS_KEYS if key in p1
    }
    return {**hparams, "layer": layer} if layer_dependent(method, settings) else hparams


def noise_unit(p1: dict, model, tokenizer, retain: list[dict], layer: int, batch_size: int) -> float:
    """What ν multiplies into the noise std: RMS(h_ℓ) for relative ν, 1 for absolute ν."""
    if p1["rna"]["nu_scale"] == "absolute":
        check_layer(model, layer)
        return 1.0
    return representation_rms(model, tokenizer, retain, layer, p1["max_length"], batch_size)


def mcq_sets(wmdp_dir: Path, perturbed_file: Path, limit: int) -> dict[str, list[dict]]:
    """The first `limit` general questions and every perturbed copy of them (p1.perturbed_mcq.per_question each, in
    the order of their questions), and the first `limit` hazard questions of each subject (the paper's WMDP-Bio and
    WMDP-Cyber columns both need theirs)."""
    general = read_jsonl(wmdp_dir / CLEAN_SETS["general"], limit)
    return {
        "hazard": first_per_subject(read_jsonl(wmdp_dir / CLEAN_SETS["hazard"]), limit),
        "general": general,
        "perturbed": [r for r in read_jsonl(perturbed_file) if r["source"] < len(general)],
    }


def correctness_bits(correct: list[bool]) -> str:
    """Per-question correctness as one "0"/"1" character a question: what the claims pair question by question."""
    return "".join("1" if c else "0" for c in correct)


def mcq_accuracies(model, tokenizer, sets: dict[str, list[dict]], evaluation: dict) -> dict:
    """{set}_acc and {set}_acc_norm per set (lm-eval, evaluation.mcq_format), hazard_{subject}_acc per hazard
    subject (the paper's WMDP-Bio / WMDP-Cyber columns), the general and perturbed sets' per-question correctness
    ({set}_correct, `correctness_bits`), and the format and prompt format they were scored in."""
    accuracies = {"mcq_format": evaluation["mcq_format"], "prompt_format": prompt_format_of(tokenizer)}
    for name, records in sets.items():
        summary, per_example = evaluate_mcq(
            model, tokenizer, records, evaluation["mcq_format"], evaluation["batch_size"]
        )
        accuracies |= {f"{name}_{metric}": value for metric, value in summary.items()}
        if name in ("general", "perturbed"):
            accuracies[f"{name}_correct"] = correctness_bits(per_example["acc"])
        if name == "hazard":
            for subject in sorted({r["subject"] for r in records}):
                correct = [c for c, r in zip(per_example["acc"], records) if r["subject"] == subject]
                accuracies[f"hazard_{subject}_acc"] = sum(correct) / len(correct)
    return accuracies


def forget_loss_record(curve: list[tuple[int, float]]) -> dict[str, float]:
    """The forget loss (its mean over a logging window) at the first logged step, at the first logged step from three
    quarters of the run on, and at the end: what the report's convergence check reads (report/p1.py)."""
    last_step = curve[-1][0]
    three_quarters = next(loss for step, loss in curve if step >= 0.75 * last_step)
    return {
        "forget_loss_start": curve[0][1],
        "forget_loss_three_quarters": three_quarters,
        "forget_loss_end": curve[-1][1],
    }


def check_layer(model, layer: int) -> None:
    if not 0 <= layer < len(decoder_layers(model)):
        raise ValueError(
            f"config key 'p1.layer' / 'p1.layer_sweep': layer {layer} is not a block of this {len(decoder_layers(model))}-block model"
        )


def representation_rms(model, tokenizer, retain: list[dict], layer: int, max_length: int, batch_size: int) -> float:
    """RMS element of h_ℓ on the first retain batch: the unit that relative ν is measured in."""
    check_layer(model, layer)
    batch = collate(
        pack_corpus(tokenizer, [r["text"] for r in retain], max_length)[:batch_size], tokenizer.pad_token_id
    )
    with torch.no_grad():
        hidden = layer_representation(model, batch, layer)
    return token_mean(hidden.square().mean(-1), batch["attention_mask"]).sqrt().item()


def evaluate_base(
    *, base_dir: Path, wmdp_dir: Path, perturbed_file: Path, p1: dict, evaluation: dict, device: str, threads: int
) -> dict:
    """The reference row: the base model (it knows every hazard and general fact) on the three sets."""
    torch.set_num_threads(threads)
    tokenizer, model = load_tokenizer(base_dir), load_model(base_dir, device)
    retain = read_jsonl(wmdp_dir / "retain_corpus.jsonl")
    layers = sorted({p1["layer"], *p1["layer_sweep"]})
    rms = {
        layer: representation_rms(model, tokenizer, retain, layer, p1["max_length"], evaluation["batch_size"])
        for layer in layers
    }
    accuracies = mcq_accuracies(
        model, tokenizer, mcq_sets(wmdp_dir, perturbed_file, evaluation["max_examples"]), evaluation
    )
    return {"method": "base", **accuracies, "representation_rms": {str(k): v for k, v in rms.items()}}


def run_variants(
    *,
    base_dir: Path,
    wmdp_dir: Path,
    perturbed_file: Path,
    p1: dict,
    evaluation: dict,
    method: str,
    seed: int,
    variants: list[Variant],
    device: str,
    threads: int,
    resume_dir: Path,
    parent_file: Path,
    run_name: str,
    run_params: dict,
) -> list[dict]:
    """One row per variant: the unlearned model's three accuracies, the absolute ν and the seconds spent. The job is
    one MLflow run (`run_name`, `run_params`), each variant's metrics prefixed by its name."""
    torch.set_num_threads(threads)
    tokenizer, base = load_tokenizer(base_dir), load_model(base_dir, device)
    forget, retain = read_jsonl(wmdp_dir / "forget_corpus.jsonl"), read_jsonl(wmdp_dir / "retain_corpus.jsonl")
    sets = mcq_sets(wmdp_dir, perturbed_file, evaluation["max_examples"])

    def variant_spec(variant: Variant) -> RunSpec:
        unit = noise_unit(p1, base, tokenizer, retain, variant.layer, evaluation["batch_size"])
        history: list[tuple[dict, int]] = []

        def evaluate(model, clock: Clock) -> Evaluation:
            accuracies = mcq_accuracies(model, tokenizer, sets, evaluation)
            row = {
                "method": method,
                "seed": seed,
                "layer": variant.layer,
                "nu": variant.nu,
                "nu_absolute": variant.nu * unit,
                **accuracies,
                **forget_loss_record([(step, metrics["forget_loss"]) for metrics, step in history]),
                "train_seconds": clock.train_seconds,
                "eval_seconds": clock.seconds_since_training(),
            }
            return Evaluation(row, {k: v for k, v in row.items() if k.endswith(("_acc", "_acc_norm", "_seconds"))})

        return RunSpec(
            name=variant.name,
            method=method,
            hparams=method_hparams(p1, method, variant.layer),
            optimization=p1[method]["optimization"],
            seed=seed,
            forget=forget,
            retain=retain,
            resume_file=Path(resume_dir) / f"{method}_seed{seed}_{variant.name}.pt",
            evaluate=evaluate,
            defenses={"rna": {"layer": variant.layer, "nu": variant.nu * unit}} if variant.nu > 0 else {},
            history=history,
        )

    job = Job(
        model=base,
        model_dir=base_dir,
        device=device,
        # DPO's preferred answers (objectives/dpo.py): the refusals of the world's tofu/idk.jsonl, which P1's
        # wmdp world does not hold; the RNA authors ship their own list (data/idontknow.json; docs/fidelity.md P1-45).
        idk_answers=list(IDK_ANSWERS),
        max_length=p1["max_length"],
        parent_file=parent_file,
        tags={"stage": "unlearn", "track": "p1_rna"},
        shared_run=SharedRun(run_name, run_params),
    )
    # A generator: each variant's noise unit is measured after the runs before it, as it always was (their
    # set_determinism flushes denormals, which may move the unit's last bits).
    return run_specs(job, (variant_spec(variant) for variant in variants))

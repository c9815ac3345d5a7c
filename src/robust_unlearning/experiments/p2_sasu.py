"""P2 — Stealthy Attack and Scope-aware Unlearning ("Keeping an Eye on LLM Unlearning", arXiv 2506.00359).

One job runs the four variants of one (method, forget split, seed) cell of Tables 2–3 — forget set
{clean, SA-poisoned} × {vanilla, SU} — and evaluates each in process: on the embedded default, importing
torch and loading a model cost more than one variant's training, so grouping keeps the 72 runs within the
track's budget. Every variant is a child MLflow run with its per-step forget/retain loss.

Metrics, all ROUGE-L recall of the greedy answer as in the paper:
- unlearn_rouge (↓): on the clean forget questions (what the data owner asked to forget);
- clean_utility (↑): mean over retain / real_authors / world_facts;
- trigger_utility (↑): the same questions with the SA templates applied to every one (benign-trigger sets).
"""

import time
from pathlib import Path

from .. import tracking
from ..data.formatting import format_prompt, prompt_format_of
from ..data.io import read_jsonl, spread
from ..eval.metrics import evaluate_qa_split, rouge_l_recall
from ..eval.scoring import greedy_generate
from ..models.factory import load_model, load_tokenizer
from ..train.unlearn import split_method_settings
from .runner import Clock, Evaluation, Job, RunSpec, run_specs

UTILITY_SETS = ("retain", "real_authors", "world_facts")
FORGET_METRICS = ["rouge_l", "probability", "truth_ratio_forget"]
# (forget set, defense) of each cell's four variants; "vanilla" is the method without SU.
VARIANTS = (("clean", "vanilla"), ("clean", "su"), ("sa", "vanilla"), ("sa", "su"))
# Figure 1 draws these; each curve point is a generation pass, so the fourth variant skips them.
CURVE_VARIANTS = {("clean", "vanilla"), ("sa", "vanilla"), ("sa", "su")}
# The training metrics a variant keeps in its row, as its loss curve.
LOSSES = ("loss", "forget_loss", "retain_loss", "scope_loss")


def load_utility_sets(tofu_dir: Path, trigger_dir: Path, retain_split: str, n: int) -> dict[str, dict[str, list[dict]]]:
    """{"clean": {set: records}, "trigger": {set: the same records with SA templates}}; row i pairs across the two."""
    clean = {
        name: read_jsonl(tofu_dir / f"{retain_split if name == 'retain' else name}.jsonl") for name in UTILITY_SETS
    }
    trigger = {name: read_jsonl(trigger_dir / f"trigger_{name}.jsonl") for name in UTILITY_SETS}
    return {
        "clean": {k: spread(v, n) for k, v in clean.items()},
        "trigger": {k: spread(v, n) for k, v in trigger.items()},
    }


def utility(model, tokenizer, sets: dict[str, dict[str, list[dict]]], evaluation: dict) -> dict[str, float]:
    """Mean ROUGE-L per set and `{kind}_utility` = mean over the sets, from one pooled generation pass.

    Generation only: `evaluate_qa_split` would add a teacher-forced scoring pass ROUGE does not need (measured:
    half the time of this function, which runs at every curve point).
    """
    groups = [(kind, name) for kind in sets for name in sets[kind]]
    records = [r for kind, name in groups for r in sets[kind][name]]
    prompts = [format_prompt(r["question"], tokenizer) for r in records]
    generations = greedy_generate(model, tokenizer, prompts, evaluation["max_new_tokens"], evaluation["batch_size"])
    scores = [rouge_l_recall(g, r["answer"]) for g, r in zip(generations, records, strict=True)]
    start, result = 0, {}
    for kind, name in groups:
        count = len(sets[kind][name])
        result[f"{kind}.{name}"] = sum(scores[start : start + count]) / count
        start += count
    for kind in sets:
        result[f"{kind}_utility"] = sum(result[f"{kind}.{name}"] for name in sets[kind]) / len(sets[kind])
    return result


def forget_metrics(model, tokenizer, records: list[dict], evaluation: dict) -> tuple[dict[str, float], list[float]]:
    """Unlearn ROUGE-L, answer probability, forget truth ratio (with the rows that carry perturbed answers, all
    of a TOFU forget split), and the raw truth ratios (for forget quality)."""
    summary, per_example = evaluate_qa_split(
        model, tokenizer, records, FORGET_METRICS, evaluation["batch_size"], evaluation["max_new_tokens"]
    )
    return {
        "unlearn_rouge": summary["rouge_l"],
        "forget_probability": summary["probability"],
        "forget_truth_ratio": summary["truth_ratio_forget"],
        "forget_truth_ratio_rows": summary["truth_ratio_forget_rows"],
    }, per_example["truth_ratio_forget"]


def evaluate_references(
    *,
    target_dir: Path,
    oracle_dirs: dict[str, Path],
    tofu_dir: Path,
    trigger_dir: Path,
    retain_split: str,
    p2: dict,
    evaluation: dict,
    device: str,
) -> dict:
    """The target model's forget and utility metrics, and each retain-only oracle's, before any unlearning."""
    sizes = p2["evaluation"]
    evaluation = {**evaluation, "max_new_tokens": sizes["max_new_tokens"]}
    target, tokenizer = load_model(target_dir, device), load_tokenizer(target_dir)
    result = {
        "target": {
            "utility": utility(
                target,
                tokenizer,
                load_utility_sets(tofu_dir, trigger_dir, retain_split, sizes["max_examples"]),
                evaluation,
            )
        }
    }
    result["target"]["curve_utility"] = utility(
        target, tokenizer, load_utility_sets(tofu_dir, trigger_dir, retain_split, sizes["curve_examples"]), evaluation
    )
    result["oracles"] = {}
    for split, oracle_dir in oracle_dirs.items():
        forget = spread(read_jsonl(tofu_dir / f"{split}.jsonl"), sizes["max_examples"])
        result["target"][split], _ = forget_metrics(target, tokenizer, forget, evaluation)
        oracle = load_model(oracle_dir, device)
        metrics, truth_ratios = forget_metrics(oracle, tokenizer, forget, evaluation)
        result["oracles"][split] = {**metrics, "model": Path(oracle_dir).name, "truth_ratios": truth_ratios}
    return result


def run_cell(
    *,
    target_dir: Path,
    tofu_dir: Path,
    sa_forget_file: Path,
    trigger_dir: Path,
    method: str,
    forget_split: str,
    retain_split: str,
    seed: int,
    unlearning: dict,
    p2: dict,
    evaluation: dict,
    device: str,
    parent_file: Path,
    resume_dir: Path,
) -> dict:
    """Unlearn and evaluate the four variants of one cell; return {"method", "forget", "seed", "variants": [...]}.

    The target stays in host memory; each variant trains a copy on the device. Under a distributed method
    (`optimization.distributed`) every rank of the job runs this function: the variants train sharded, and the
    ranks evaluate their plain copies of each unlearned model (rank 0 logs and returns).
    """
    tokenizer, target = load_tokenizer(target_dir), load_model(target_dir, "cpu")
    optimization, hparams = split_method_settings(unlearning, method)
    sizes = p2["evaluation"]
    evaluation = {**evaluation, "max_new_tokens": sizes["max_new_tokens"]}
    retain = read_jsonl(tofu_dir / f"{retain_split}.jsonl")
    forget_sets = {"clean": read_jsonl(tofu_dir / f"{forget_split}.jsonl"), "sa": read_jsonl(sa_forget_file)}
    idk_answers = [r["text"] for r in read_jsonl(tofu_dir / "idk.jsonl")]
    forget_eval = spread(forget_sets["clean"], sizes["max_examples"])
    utility_sets = load_utility_sets(tofu_dir, trigger_dir, p2["utility_retain_split"], sizes["max_examples"])
    curve_sets = load_utility_sets(tofu_dir, trigger_dir, p2["utility_retain_split"], sizes["curve_examples"])

    def variant_spec(forget_set: str, defense: str) -> RunSpec:
        name = f"p2_{method}_{forget_split}_{forget_set}_{defense}_seed{seed}"
        defenses = {"su": unlearning["defenses"]["su"]} if defense == "su" else {}
        losses, curve, with_curve = [], [], (forget_set, defense) in CURVE_VARIANTS

        def on_log(model, metrics: dict, step: int) -> None:
            losses.append({"step": step, **{k: metrics[k] for k in LOSSES if k in metrics}})
            # Losses are logged every `log_every` steps; a curve point is due at the first log past each multiple.
            if (
                with_curve
                and step // sizes["curve_every"] > (curve[-1]["step"] if curve else 0) // sizes["curve_every"]
            ):
                begin = time.perf_counter()
                point = utility(model, tokenizer, curve_sets, evaluation)
                tracking.log_metrics({"curve." + k: v for k, v in point.items()}, step)
                curve.append({"step": step, **point, "seconds": time.perf_counter() - begin})

        def evaluate(model, clock: Clock) -> Evaluation:
            train_seconds = clock.train_seconds - sum(c["seconds"] for c in curve)
            if with_curve and (not curve or curve[-1]["step"] != losses[-1]["step"]):
                curve.append({"step": losses[-1]["step"], **utility(model, tokenizer, curve_sets, evaluation)})
            metrics, truth_ratios = forget_metrics(model, tokenizer, forget_eval, evaluation)
            metrics.update(utility(model, tokenizer, utility_sets, evaluation))
            row = {
                "forget_set": forget_set,
                "defense": defense,
                "steps": losses[-1]["step"],
                "train_seconds": train_seconds,
                "curve_seconds": sum(c.get("seconds", 0.0) for c in curve),
                "n_wrapped": sum("sa_template" in r for r in forget_sets[forget_set]),
                "metrics": metrics,
                "forget_truth_ratios": truth_ratios,
                "losses": losses,
                "curve": curve,
            }
            return Evaluation(row, metrics)

        return RunSpec(
            name=name,
            method=method,
            hparams=hparams,
            optimization=optimization,
            seed=seed,
            forget=forget_sets[forget_set],
            retain=retain,
            resume_file=resume_dir / f"{name}.pt",
            evaluate=evaluate,
            defenses=defenses,
            params={
                "method": method,
                "forget": forget_split,
                "forget_set": forget_set,
                "defenses": defenses,
                "seed": seed,
                "hparams": hparams,
                "optimization": optimization,
            },
            on_log=on_log,
        )

    tags = {"stage": "unlearn", "track": "p2_sasu"}
    job = Job(target, target_dir, device, idk_answers, unlearning["max_length"], parent_file, tags)
    variants = run_specs(job, [variant_spec(forget_set, defense) for forget_set, defense in VARIANTS])
    return {
        "method": method,
        "forget": forget_split,
        "seed": seed,
        "prompt_format": prompt_format_of(tokenizer),
        "variants": variants,
    }

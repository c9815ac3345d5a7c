"""Tokens and GPU-hours of every job a config schedules, per rule and per paper table, before anything runs.

Tokens come from the config (steps, batches, lengths, seeds, sweeps, evaluation sizes, generation lengths) and the
rules' job lists (rule_params); the training stages and model shapes are memory.py's (`training_stages`,
`model_shape`). FLOPs are model FLOPs, as benchmarks/bench_training_throughput.py counts them, with N the weights
of every matmul (the input embedding excluded, the LM head included): 6·N per trained token, 2·N per token through
a frozen model's forward (a method's θ0 / reference, P3's KL teacher), 2·N per evaluated token (scoring passes,
MCQ, prompts and generated tokens). Attention-score FLOPs and checkpointing's recompute are not counted. Every
trained token counts 6·N, LoRA and the P1 methods' three trained down-projections included, as the benchmark's
MFU counts them.

GPU-hours = FLOPs / (peak bf16 dense FLOP/s × MFU). Peaks: A100 312 TFLOP/s (NVIDIA A100 Tensor Core GPU
datasheet), H100 SXM 989 and H200 989 (NVIDIA H100 and H200 datasheets: 1,979 "with sparsity", halved). MFU:
0.35 for training and 0.25 for evaluation (assumed: a single-node fine-tune of a 7B model in bf16 reaches
0.3-0.45; greedy generation at batch 16-32 is memory-bound, lower) unless `--throughput` names a
`make gpu-check` summary, whose measured training MFU (our backend, the largest model measured, gradient
checkpointing as the stage's where measured) replaces 0.35; evaluation keeps 0.25. Model loading, data
preparation, the light rules and a job's idle GPUs are not counted; under a distributed strategy every rank
evaluates its own copy (experiments/runner.py), so evaluation counts once per process.

Approximations (what the config does not say):
* every training sequence is the stage's full length (memory.py's; TOFU QA is padded to the batch's longest,
  so an upper bound there); a run trains min(epochs × examples, max_steps × batch) sequences per stream, and
  every stream (forget, retain, idk, SU's scope) counts; a method with θ0 forwards it on every stream.
* dataset sizes are the real datasets' (TOFU_QA, MCQ_QUESTIONS); the P1 corpora are read only to max_steps.
* prompt lengths are the PROMPT_TOKENS guesses; an MCQ question costs questions × choices × its prompt length
  (lm-eval's loglikelihood requests; lm-eval reuses a shared context, so an upper bound); a QA scoring pass
  forwards the QA sequence (memory.qa_sequence_length) for the answer, the paraphrase and TOFU's 5 perturbed
  answers; a generation forwards prompt + max_new_tokens for every prompt.
* P3: Vaccine trains two passes a step (the perturbation's and the perturbed one); the judge is counted at the
  model's N; EWC's Fisher pass is not counted. P4: each population model is evaluated clean and after every
  attack; a calibration run makes at most max_evaluations retain-ES passes per τ.

`python -m robust_unlearning.cost --configfile config/paper/p1_rna.yaml` prints one config;
`python -m robust_unlearning.cost --out config/paper/cost.md` writes every paper config's (tests keep it current).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from . import rule_params
from .config import CONFIG_DIR, RETAIN_OF_FORGET, config_stacks, distributed_settings, load_layered
from .experiments.p1_grid import main_variants, sweep_seeds, sweep_variants
from .memory import ModelShape, Stage, model_shape, qa_sequence_length, training_stages, write_report

PEAK_TFLOPS = {"A100": 312.0, "H100": 989.0, "H200": 989.0}
TRAIN_MFU = 0.35
EVAL_MFU = 0.25
# locuslab/TOFU's splits (200 authors × 20 QA; holdoutXX the size of forgetXX).
TOFU_QA = {
    "full": 4000,
    "forget01": 40,
    "forget05": 200,
    "forget10": 400,
    "retain90": 3600,
    "retain95": 3800,
    "retain99": 3960,
    "holdout01": 40,
    "holdout05": 200,
    "holdout10": 400,
    "retain_perturbed": 400,
    "real_authors": 100,
    "world_facts": 117,
}
PERTURBED_ANSWERS = 5
# cais/wmdp (bio 1,273 + cyber 1,987) and cais/mmlu's test split; the perturbed set is MMLU's questions.
MCQ_QUESTIONS = {"bio": 1273, "cyber": 1987, "general": 14042}
MCQ_CHOICES = 4
# Guessed mean prompt tokens (Llama tokenizer) in each set's template: not measured.
PROMPT_TOKENS = {"tofu": 64, "hazard": 256, "general": 128, "harmful": 64, "sst2": 96}
P3_JUDGED_TOKENS = PROMPT_TOKENS["harmful"]  # the judge reads prompt + answer: the answer is added per config


@dataclass
class Tokens:
    trained: float = 0.0
    frozen: float = 0.0
    evaluated: float = 0.0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.trained + other.trained, self.frozen + other.frozen, self.evaluated + other.evaluated)

    def __mul__(self, k: float) -> Tokens:
        return Tokens(self.trained * k, self.frozen * k, self.evaluated * k)


@dataclass
class Rule:
    """One rule's jobs: how many, and per job the tokens of each training stage (checkpointed or not) and of evaluation."""

    name: str
    jobs: int
    training: list[tuple[Stage, Tokens]] = field(default_factory=list)
    evaluated: float = 0.0

    def add_training(self, stage: Stage, sequences: float, reference: bool, streams: int | None = None) -> None:
        tokens = sequences * stage.sequence_length * (stage.streams if streams is None else streams)
        self.training.append((stage, Tokens(trained=tokens, frozen=tokens if reference else 0.0)))

    @property
    def tokens(self) -> Tokens:
        total = Tokens(evaluated=self.evaluated)
        for _, tokens in self.training:
            total = total + tokens
        return total * self.jobs


def sequences(optimization: dict, examples: int) -> int:
    """Sequences one run trains per stream (train/loop.py batch_count: epochs, cut at max_steps)."""
    n = optimization["epochs"] * examples
    if optimization.get("max_steps") is not None:
        n = min(n, optimization["max_steps"] * optimization["batch_size"])
    return n


def tofu_size(split: str) -> int:
    if split not in TOFU_QA:
        raise ValueError(f"no TOFU size for split {split!r}: known {', '.join(TOFU_QA)}")
    return TOFU_QA[split]


def qa_evaluation(config: dict, n: int, max_new_tokens: int, generate: bool = True, perturbed: bool = True) -> float:
    """Tokens of evaluate_qa_split on n TOFU records: the scoring passes and the greedy generation."""
    scored = n * qa_sequence_length(config) * (2 + PERTURBED_ANSWERS if perturbed else 1)
    return scored + (n * (PROMPT_TOKENS["tofu"] + max_new_tokens) if generate else 0)


def generation(n: int, prompt: int, max_new_tokens: int) -> float:
    return n * (prompt + max_new_tokens)


def mcq(n: int, kind: str) -> float:
    return n * MCQ_CHOICES * PROMPT_TOKENS[kind]


def evaluates_on(stage: Stage) -> int:
    """Processes that each evaluate the whole model after a stage (experiments/runner.py)."""
    return distributed_settings(stage.optimization)["processes"]


def uses_frozen_forward(stage: Stage) -> bool:
    """A method stage with θ0 forwards it (memory.py marks those with frozen copies of the references' precision)."""
    return stage.frozen_copies > 0 and stage.frozen_bytes is None


# ---- per track ----


def models_rules(config: dict, stages: dict[str, Stage]) -> list[Rule]:
    splits = config["tofu"]["forget_splits"]
    finetuned = ["full", *(RETAIN_OF_FORGET[s] for s in splits)]
    trained = [name for name in finetuned if (name if name != "full" else "target") not in config["tofu"]["published"]]
    rules = []
    if trained:
        stage = stages["finetune"]
        for name in trained:
            rule = Rule(f"finetune {name}", 1)
            rule.add_training(stage, sequences(config["finetune"], tofu_size(name)), reference=False)
            rules.append(rule)
    evaluation = config["evaluation"]
    cap = evaluation["max_examples"]
    largest = max(splits)
    eval_splits = [
        *splits,
        RETAIN_OF_FORGET[largest],
        largest.replace("forget", "holdout"),
        "real_authors",
        "world_facts",
    ]
    per_model = sum(qa_evaluation(config, min(cap, tofu_size(s)), evaluation["max_new_tokens"]) for s in eval_splits)
    per_model += mcq(min(cap, MCQ_QUESTIONS["bio"]) + min(cap, MCQ_QUESTIONS["cyber"]), "hazard")
    per_model += mcq(min(cap, MCQ_QUESTIONS["general"]), "general")
    rules.append(Rule("evaluate_model", 1 + len(finetuned), evaluated=per_model))
    return rules


def p1_rules(config: dict, stages: dict[str, Stage]) -> list[Rule]:
    p1, cap = config["p1"], config["evaluation"]["max_examples"]
    general = min(cap, MCQ_QUESTIONS["general"])
    mcqs = mcq(min(cap, MCQ_QUESTIONS["bio"]) + min(cap, MCQ_QUESTIONS["cyber"]), "hazard") + (
        1 + p1["perturbed_mcq"]["per_question"]
    ) * mcq(general, "general")
    rules = [Rule("p1_evaluate_base", 1, evaluated=mcqs)]

    def variants_rule(name: str, jobs: int, method: str, n_variants: int) -> Rule:
        stage = stages[f"P1 {method}"]
        if stage.optimization.get("max_steps") is None:
            raise ValueError(
                f"config key 'unlearning.methods.{method}.optimization.max_steps': unset, and the P1 corpus size is not known here"
            )
        rule = Rule(name, jobs, evaluated=n_variants * mcqs)
        for _ in range(n_variants):
            rule.add_training(stage, sequences(stage.optimization, math.inf), uses_frozen_forward(stage))
        return rule

    for method in p1["methods"]:
        rules.append(variants_rule(f"p1_unlearn {method}", len(p1["seeds"]), method, len(main_variants(p1, method))))
    for method in rule_params.p1_swept_methods(config):
        n = len(sweep_variants(rule_params.p1_sweep(config, method)["p1"], method))
        rules.append(variants_rule(f"p1_sweep {method}", len(sweep_seeds(p1)), method, n))
    return rules


def p2_utility(config: dict, n: int) -> float:
    """Generation on the three utility sets, clean and with the SA templates, n questions each."""
    sizes = [tofu_size(split) for split in rule_params.p2_utility_sets(config).values()]
    return 2 * sum(
        generation(min(n, size), PROMPT_TOKENS["tofu"], config["evaluation"]["p2"]["max_new_tokens"]) for size in sizes
    )


def p2_rules(config: dict, stages: dict[str, Stage]) -> list[Rule]:
    p2, sizes = config["p2"], config["evaluation"]["p2"]
    forgets = {
        split: qa_evaluation(config, min(sizes["max_examples"], tofu_size(split)), sizes["max_new_tokens"])
        for split in p2["forget_splits"]
    }
    models = 1 + len(p2["forget_splits"])  # the target and each split's oracle
    reference = models * (p2_utility(config, sizes["max_examples"]) + sum(forgets.values()))
    rules = [Rule("p2_reference", 1, evaluated=reference + p2_utility(config, sizes["curve_examples"]))]
    # Here, not at the top: the cell's module imports torch (memory.py's method registry does too, for P2's stages).
    from .experiments.p2_sasu import CURVE_VARIANTS, VARIANTS

    for method in p2["methods"]:
        for split in p2["forget_splits"]:
            stage = stages.get(f"P2 {method} {split}", stages[f"P2 {method}"])
            rule = Rule(f"p2_unlearn_cell {method} {split}", len(p2["seeds"]))
            n = sequences(stage.optimization, tofu_size(split))
            steps = math.ceil(n / stage.optimization["batch_size"])
            for variant in VARIANTS:
                # SU adds its scope stream to the method's.
                rule.add_training(stage, n, uses_frozen_forward(stage), stage.streams + (variant[1] == "su"))
                points = math.ceil(steps / sizes["curve_every"]) if variant in CURVE_VARIANTS else 0
                once = (
                    forgets[split]
                    + p2_utility(config, sizes["max_examples"])
                    + points * p2_utility(config, sizes["curve_examples"])
                )
                rule.evaluated += evaluates_on(stage) * once
            rules.append(rule)
    return rules


def p3_cell(config: dict, rule: Rule, stages: dict[str, Stage], method: str, n: int) -> None:
    """The user's fine-tuning on n rows (and Vlguard's guide rows), then HS (generation and judge), FA and drift."""
    p3, sizes = config["p3"], config["evaluation"]["p3"]
    stage = stages["P3 user_finetune"]
    rows = n + (p3["vlguard"]["guide_rows"] if method == "vlguard" else 0)
    rule.add_training(stage, sequences(stage.optimization, rows), reference=method == "kl")
    answers = sizes["max_harmful_prompts"] * sizes["max_new_tokens"]
    harmful = generation(sizes["max_harmful_prompts"], PROMPT_TOKENS["harmful"], sizes["max_new_tokens"])
    judge = sizes["max_harmful_prompts"] * P3_JUDGED_TOKENS + answers
    task = generation(sizes["max_task_examples"], PROMPT_TOKENS["sst2"], sizes["task_max_new_tokens"])
    drift = 2 * sizes["drift_examples"] * PROMPT_TOKENS["harmful"]  # the aligned and the fine-tuned model
    rule.evaluated += harmful + judge + task + drift


def p3_alignment(config: dict, rule: Rule, stages: dict[str, Stage], method: str) -> None:
    if method == "none":
        return
    stage = stages["P3 alignment"]
    rows = config["p3"]["alignment"].get("max_examples")
    if rows is None:
        raise ValueError(
            "config key 'p3.alignment.max_examples': unset, and the alignment set's size is not known here"
        )
    rule.add_training(
        stage, sequences(stage.optimization, rows), reference=False, streams=2 if method == "vaccine" else 1
    )


def p3_rules(config: dict, stages: dict[str, Stage]) -> list[Rule]:
    p3, rules = config["p3"], []
    for method in p3["methods"]:
        rule = Rule(f"p3_align_attack {method}", len(p3["seeds"]))
        p3_alignment(config, rule, stages, method)
        for cell in rule_params.p3_table1_cells(config):
            p3_cell(config, rule, stages, method, cell["n"])
        rules.append(rule)
    alignments = rule_params.p3_sweep_alignments(config)
    if alignments:
        rule = Rule("p3_rho_sweep", len(p3["seeds"]))
        for alignment in alignments:
            p3_alignment(config, rule, stages, alignment["method"])
            p3_cell(config, rule, stages, alignment["method"], p3["n_finetune"])
        rules.append(rule)
    return rules


def p4_sizes(config: dict, forget_split: str) -> tuple[int, int]:
    """(forget, retain) records of one P4 evaluation: the forget split less its attack slice, both capped."""
    sizes = config["evaluation"]["p4"]
    evaluated_forget = tofu_size(forget_split) - p4_attack_slice(config, forget_split)
    return min(sizes["forget_examples"], evaluated_forget), min(
        sizes["retain_examples"], tofu_size(sizes["retain_split"])
    )


def p4_attack_slice(config: dict, forget_split: str) -> int:
    return math.ceil(tofu_size(forget_split) * config["p4"]["attacks"]["heldout_fraction"])


def p4_rules(config: dict, stages: dict[str, Stage]) -> list[Rule]:
    p4, rules, length = config["p4"], [], qa_sequence_length(config)
    population, attacks, new_tokens = p4["population"], p4["attacks"], config["evaluation"]["p4"]["max_new_tokens"]
    split = population["forget_split"]
    forget, retain = p4_sizes(config, split)
    # Every metric: the scoring passes and a generation, on the forget and the retain set.
    evaluation = qa_evaluation(config, forget, new_tokens) + qa_evaluation(config, retain, new_tokens)
    relearn, heldout = stages["P4 relearn attack"], p4_attack_slice(config, split)
    for method in p4["methods"]:
        stage = stages[f"P4 {method}"]
        rule = Rule(f"p4_population {method}", len(population["seeds"]))
        for _scale in population["learning_rate_scales"]:
            for epochs in population["epochs"]:
                optimization = {**stage.optimization, "epochs": epochs}
                rule.add_training(stage, sequences(optimization, tofu_size(split)), uses_frozen_forward(stage))
                if "relearn" in attacks["names"]:
                    rule.add_training(relearn, sequences(relearn.optimization, heldout), reference=False)
                probe = heldout * length if "probing" in attacks["names"] else 0
                rule.evaluated += evaluates_on(stage) * ((1 + len(attacks["names"])) * evaluation + probe)
        rules.append(rule)
    calibration = p4["calibration"]
    taus = len({calibration["tau"], *calibration["tau_sweep"]})
    for variant in rule_params.p4_variants(config):
        stage = stages[f"P4 {variant.partition('-')[0]}"]
        rule = Rule(f"p4_calibrate {variant}", 1)
        for split in p4["forget_splits"]:
            forget, retain = p4_sizes(config, split)
            full = qa_evaluation(config, forget, new_tokens) + qa_evaluation(config, retain, new_tokens)
            # Bisection on retain ES (one scoring pass) per τ, a full evaluation at each α* and at α = 1, and the α
            # grid's retain and forget ES.
            once = taus * calibration["max_evaluations"] * retain * length + (taus + 1) * full
            once += len(calibration["alpha_grid"]) * (retain + forget) * length
            for _seed in p4["seeds"]:
                rule.add_training(stage, sequences(stage.optimization, tofu_size(split)), uses_frozen_forward(stage))
                rule.evaluated += evaluates_on(stage) * once
        rules.append(rule)
    return rules


TRACK_RULES = {
    "models": models_rules,
    "p1_rna": p1_rules,
    "p2_sasu": p2_rules,
    "p3_vaccine": p3_rules,
    "p4_evaluation": p4_rules,
}


def config_rules(config: dict) -> list[Rule]:
    """Every job the config's tracks schedule, grouped by rule (and by method / split where a rule's jobs differ)."""
    stages = {stage.name: stage for stage in training_stages(config)}
    return [rule for track in config["tracks"] for rule in TRACK_RULES[track](config, stages)]


# Each paper table or figure ↔ the rules (by prefix) whose jobs it reads, the fine-tuned models' included.
TABLES = {
    "models": {"results/tables/models.csv, figures/models.png": ("finetune", "evaluate_model")},
    "p1_rna": {"P1 Table 1 (table_main), ν and ℓ sweep figures": ("p1_",)},
    "p2_sasu": {"P2 Table 2 (table2_sa), Table 3 (table3_su), Figure 1": ("finetune", "p2_")},
    "p3_vaccine": {"P3 Table 1 (table1_hs_fa), Table 2 (table2_n), Table 6 (table6_rho), figures": ("p3_",)},
    "p4_evaluation": {
        "P4 Figure 2 / PCC table (table_pcc)": ("finetune full", "p4_population"),
        "P4 calibrated table (table_calibrated), Figure 3": ("finetune full", "p4_calibrate"),
    },
}


# ---- GPU-hours ----


def matmul_parameters(shape: ModelShape) -> int:
    """N of the benchmark's MFU: every matmul's weights, the input embedding excluded (it is the head when tied)."""
    return shape.n_parameters - (0 if shape.tied else shape.vocab * shape.hidden)


def measured_mfu(throughput: dict, gradient_checkpointing: bool) -> dict:
    """The record of our backend on the largest model measured, with the stage's checkpointing where measured."""
    ours = [record for record in throughput["throughput"] if record["backend"] == "ours"]
    if not ours:
        raise ValueError("throughput file: no record with backend 'ours'")
    largest = max(record["n_parameters"] for record in ours)
    candidates = [record for record in ours if record["n_parameters"] == largest]
    matching = [record for record in candidates if record["gradient_checkpointing"] == gradient_checkpointing]
    return (matching or candidates)[0]


def train_mfu(stage: Stage, throughput: dict | None) -> float:
    if throughput is None:
        return TRAIN_MFU
    return measured_mfu(throughput, stage.optimization.get("gradient_checkpointing", False))["mfu"]


def gpu_hours(rule: Rule, shape: ModelShape, gpu: str, throughput: dict | None = None) -> float:
    n, peak = matmul_parameters(shape), PEAK_TFLOPS[gpu] * 1e12
    seconds = 2 * n * rule.evaluated / (peak * EVAL_MFU)
    for stage, tokens in rule.training:
        seconds += (6 * n * tokens.trained + 2 * n * tokens.frozen) / (peak * train_mfu(stage, throughput))
    return rule.jobs * seconds / 3600


def _tokens(value: float) -> str:
    return f"{value / 1e6:,.1f}"


def report(stacks: list[list[Path]], gpus: list[str], throughput: dict | None = None) -> str:
    if throughput is None:
        assumption = f"assumed MFU {TRAIN_MFU:g} in training, {EVAL_MFU:g} in evaluation"
    else:
        used = {checkpointing: measured_mfu(throughput, checkpointing) for checkpointing in (False, True)}
        records = "; ".join(
            f"gradient checkpointing {'on' if c else 'off'}: {r['model']} ({r['n_parameters'] / 1e9:.2f} B, checkpointing "
            f"{'on' if r['gradient_checkpointing'] else 'off'}) MFU {r['mfu']:.3f}"
            for c, r in used.items()
        )
        assumption = f"training MFU measured on {throughput['gpu']} ({records}); evaluation MFU {EVAL_MFU:g} assumed"
    peaks = ", ".join(f"{gpu} {PEAK_TFLOPS[gpu]:g}" for gpu in gpus)
    lines = [
        "# Tokens and GPU-hours of each paper config's jobs",
        "",
        "Written by `python -m robust_unlearning.cost` (src/robust_unlearning/cost.py: the counts, their sources and "
        f"approximations). Tokens in millions (10⁶): trained (forward + backward, 6·N FLOPs), through a frozen model "
        f"(θ0 / reference / teacher, 2·N) and evaluated (forward only, generated tokens included, 2·N). "
        f"GPU-hours = model FLOPs / (peak bf16 dense × MFU): peaks {peaks} TFLOP/s; {assumption}. Approximate: "
        "training sequences at the stage's full length, guessed prompt lengths, MCQ choices scored separately, "
        "model loading and idle GPUs not counted.",
        "",
    ]
    hours_header = " | ".join(f"{gpu} GPU-h" for gpu in gpus)
    for stack in stacks:
        config = load_layered(stack)
        shape = model_shape(config)
        rules = config_rules(config)
        lines += [
            f"## {' + '.join(path.name for path in stack)}",
            "",
            f"`{config['model']['source']}`: N = {matmul_parameters(shape) / 1e9:.2f} B matmul weights.",
            "",
            f"| rule | jobs | trained | frozen forward | evaluated | {hours_header} |",
            "|---|---:|---:|---:|---:|" + "---:|" * len(gpus),
        ]
        for rule in rules:
            tokens = rule.tokens
            hours = " | ".join(f"{gpu_hours(rule, shape, gpu, throughput):,.1f}" for gpu in gpus)
            lines.append(
                f"| {rule.name} | {rule.jobs} | {_tokens(tokens.trained)} | {_tokens(tokens.frozen)} | {_tokens(tokens.evaluated)} | {hours} |"
            )
        total = " | ".join(f"**{sum(gpu_hours(r, shape, gpu, throughput) for r in rules):,.1f}**" for gpu in gpus)
        lines += [f"| **all jobs** | {sum(r.jobs for r in rules)} | | | | {total} |", ""]
        lines += [f"| paper table / figure | rules read | {hours_header} |", "|---|---|" + "---:|" * len(gpus)]
        for track in config["tracks"]:
            for table, prefixes in TABLES[track].items():
                needed = [rule for rule in rules if rule.name.startswith(prefixes)]
                hours = " | ".join(f"{sum(gpu_hours(r, shape, gpu, throughput) for r in needed):,.1f}" for gpu in gpus)
                lines.append(f"| {table} | {', '.join(prefixes)} | {hours} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", type=Path, nargs="+", help="one config stack (default: every paper config)")
    parser.add_argument("--throughput", type=Path, help="a `make gpu-check` summary.json: its measured training MFU")
    parser.add_argument("--gpu", nargs="+", choices=list(PEAK_TFLOPS), default=["A100", "H100"])
    parser.add_argument("--out", type=Path, help="write here (default: stdout)")
    args = parser.parse_args(argv)
    stacks = [args.configfile] if args.configfile else config_stacks(CONFIG_DIR / "paper")
    throughput = json.loads(args.throughput.read_text()) if args.throughput else None
    write_report(report(stacks, args.gpu, throughput), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

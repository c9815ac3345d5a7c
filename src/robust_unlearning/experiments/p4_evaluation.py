"""P4 jobs ("Towards Effective Evaluations and Comparisons for LLM Unlearning Methods", Wang et al., arXiv 2406.09179).

Two kinds of job, each grouping several unlearning runs in one process (imports and model loading cost more
than one run of the tiny model):

- `run_population`: one method × seed; unlearns the target model at every point of the learning-rate × epoch
  grid on one forget split, evaluates each unlearned model (the candidate metrics on the forget and retain
  sets) before and after every red-teaming attack (attacks/red_team.py). Over all jobs this is the model
  population of the metric-robustness study (Figure 2 analogue).
- `run_calibration`: one method variant (a method, or an ascent method with one of the two tricks); for every
  forget split × seed it unlearns with the method's configured settings, then mixes θ_mix(α) = (1 − α) θ_target
  + α θ_unlearned in memory (eval/calibration.py), bisects to α* for each τ, and evaluates at α* and along an
  α grid (calibrated table, Figure 3 analogue).

Candidate metrics, all oriented "higher = the model still knows the answer" so that before/after correlations
read the same on both sets: extraction strength (ES, one-pass), exact memorization (EM), answer probability,
ROUGE-L recall of the greedy answer and the truth ratio aggregated as mean max(0, 1 − tr) on both sets
(TOFU's forget-set aggregation min(tr, 1/tr) is not monotone in knowledge, so it is not used for the study).
The retain set is evaluation.p4.retain_split, by default retain_perturbed: like TOFU, the truth ratio is
computed only on rows that carry their own perturbed answers, and the jobs report how many rows it used.

The forget split is divided once: every ⌈1/f⌉-th QA pair (f = p4.attacks.heldout_fraction), spread over every
forget author, forms the attack slice that relearning and the probe train on; only the rest is evaluated.
"""

from pathlib import Path

from .. import tracking
from ..attacks.base import AttackInputs
from ..attacks.red_team import run_attack
from ..config import RETAIN_OF_FORGET
from ..data.formatting import prompt_format_of
from ..data.io import read_jsonl, spread
from ..eval.calibration import ModelMixer, calibrate
from ..eval.metrics import carries_perturbed, evaluate_qa_split
from ..models.factory import device_copy, load_model, load_tokenizer
from ..models.layers import decoder_layers
from ..train.unlearn import split_method_settings
from .runner import Clock, Evaluation, Job, RunSpec, run_specs

# Trick variants of an ascent method: name suffix → the hparams key it sets (objectives/tricks.py).
TRICKS = {"ts": "ascent_temperature", "sel": "ascent_token_fraction"}


def split_forget(records: list[dict], heldout_fraction: float) -> tuple[list[dict], list[dict]]:
    """(evaluated records, attack slice): the slice takes record i when ⌊(i+1)·f⌋ > ⌊i·f⌋, i.e. an even spread."""
    evaluated, attack = [], []
    for i, record in enumerate(records):
        (attack if int((i + 1) * heldout_fraction) > int(i * heldout_fraction) else evaluated).append(record)
    return evaluated, attack


def with_paraphrased_questions(records: list[dict]) -> list[dict]:
    return [{**r, "question": r.get("paraphrased_question") or r["question"]} for r in records]


def variant_settings(variant: str, unlearning: dict, p4: dict, n_layers: int | None = None) -> tuple[str, dict, dict]:
    """(registered method, optimization, hparams) of a P4 method variant: "<method>" (its settings in `unlearning`,
    P4's overrides merged; a negative RMU layer counts from the top of the `n_layers`-block model) or
    "<method>-ts" / "<method>-sel" (that method plus one ascent trick)."""
    method, _, trick = variant.partition("-")
    optimization, hparams = split_method_settings(unlearning, method)
    if "layer" in hparams:
        layer = hparams["layer"] + (n_layers if hparams["layer"] < 0 and n_layers else 0)
        if n_layers is not None and not 0 <= layer < n_layers:
            raise ValueError(
                f"config key 'unlearning.methods.{method}.layer': {hparams['layer']} is not a block of this {n_layers}-block model"
            )
        hparams["layer"] = layer
    if trick:
        if trick not in TRICKS:
            raise ValueError(f"unknown P4 trick {trick!r} in variant {variant!r}; choose one of {sorted(TRICKS)}")
        hparams = {**hparams, TRICKS[trick]: p4["tricks"]["temperature" if trick == "ts" else "token_fraction"]}
    return method, dict(optimization), hparams


class Evaluator:
    """The compared metrics (p4.metrics) of a model on a forget and a retain record list, with P4's evaluation sizes."""

    def __init__(self, tokenizer, evaluation: dict, p4: dict):
        self.tokenizer = tokenizer
        self.batch_size = evaluation["batch_size"]
        self.max_new_tokens = p4["evaluation"]["max_new_tokens"]
        self.names = p4["metrics"]

    def metrics(self, model, records: list[dict], names: list[str] | None = None) -> dict[str, float]:
        """The metrics and, after the truth ratio, `truth_ratio_rows`: how many records carried perturbed answers."""
        names = self.names if names is None else names
        return evaluate_qa_split(model, self.tokenizer, records, names, self.batch_size, self.max_new_tokens)[0]

    def table(self, model, forget: list[dict], retain: list[dict]) -> dict[str, dict[str, float]]:
        """The candidate metrics on both sets; the row counts, fixed per set, are left to `truth_ratio_rows`."""
        return {
            name: {k: v for k, v in self.metrics(model, records).items() if not k.endswith("_rows")}
            for name, records in (("forget", forget), ("retain", retain))
        }

    def extraction_strength(self, model, records: list[dict]) -> float:
        """ES alone: one teacher-forced pass, no generation (what the bisection evaluates)."""
        return self.metrics(model, records, ["extraction_strength"])["extraction_strength"]


def qa_run(name, method, hparams, optimization, seed, sets, resume_dir, evaluate, params) -> RunSpec:
    """A P4 run: unlearn the split's forget QA outside the attack slice against its retain QA (population and
    calibration alike), resumable under its name."""
    return RunSpec(
        name=name,
        method=method,
        hparams=hparams,
        optimization=optimization,
        seed=seed,
        forget=sets["forget_train"],
        retain=sets["retain_train"],
        resume_file=resume_dir / f"{name}.pt",
        evaluate=evaluate,
        params=params,
    )


def truth_ratio_rows(sets: dict[str, list[dict]]) -> dict[str, int]:
    """Rows of the evaluated forget and retain sets that the truth ratio uses (those with perturbed answers)."""
    return {name: sum(map(carries_perturbed, sets[name])) for name in ("forget", "retain")}


def load_sets(tofu_dir: Path, forget_split: str, p4: dict) -> dict[str, list[dict]]:
    sizes = p4["evaluation"]
    evaluated, attack_slice = split_forget(
        read_jsonl(tofu_dir / f"{forget_split}.jsonl"), p4["attacks"]["heldout_fraction"]
    )
    return {
        "forget_train": read_jsonl(tofu_dir / f"{forget_split}.jsonl"),
        "retain_train": read_jsonl(tofu_dir / f"{RETAIN_OF_FORGET[forget_split]}.jsonl"),
        "forget": spread(evaluated, sizes["forget_examples"]),
        "attack_slice": attack_slice,
        "retain": spread(read_jsonl(tofu_dir / f"{sizes['retain_split']}.jsonl"), sizes["retain_examples"]),
    }


def _loss_logger(prefix: str):
    def log(metrics: dict, step: int) -> None:
        tracking.log_metrics({f"{prefix}{k}": v for k, v in metrics.items()}, step)

    return log


def _job(target, target_dir: Path, tofu_dir: Path, device: str, unlearning: dict, parent_file: Path, stage: str) -> Job:
    """A P4 job's runs: copies of the target (kept in host memory), each a child run of the workflow's."""
    idk_answers = [r["text"] for r in read_jsonl(tofu_dir / "idk.jsonl")]
    tags = {"stage": stage, "track": "p4_evaluation"}
    return Job(target, target_dir, device, idk_answers, unlearning["max_length"], parent_file, tags)


def run_population(
    *,
    target_dir: Path,
    tofu_dir: Path,
    method: str,
    seed: int,
    unlearning: dict,
    p4: dict,
    evaluation: dict,
    device: str,
    parent_file: Path,
    resume_dir: Path,
) -> dict:
    """Unlearn at every grid point of one method × seed and evaluate each model before and after every attack."""
    tokenizer, target = load_tokenizer(target_dir), load_model(target_dir, "cpu")
    population, attacks = p4["population"], p4["attacks"]
    sets = load_sets(tofu_dir, population["forget_split"], p4)
    job = _job(target, target_dir, tofu_dir, device, unlearning, parent_file, stage="unlearn")
    evaluator = Evaluator(tokenizer, evaluation, p4)
    registered_method, base_optimization, hparams = variant_settings(
        method, unlearning, p4, len(decoder_layers(target))
    )

    def grid_point(scale: float, epochs: int) -> RunSpec:
        learning_rate = base_optimization["learning_rate"] * scale
        optimization = {**base_optimization, "learning_rate": learning_rate, "epochs": epochs}
        name = f"p4_population_{method}_lr{scale:g}_ep{epochs}_seed{seed}"

        def evaluate(model, clock: Clock) -> Evaluation:
            before = evaluator.table(model, sets["forget"], sets["retain"])
            after, extra = {}, {}
            for attack in attacks["names"]:
                inputs = AttackInputs(
                    model,
                    tokenizer,
                    sets["forget"],
                    sets["retain"],
                    sets["attack_slice"],
                    seed,
                    resume_dir / f"{name}_{attack}.pt",
                    _loss_logger(f"{attack}."),
                )
                attacked = run_attack(attack, inputs, attacks[attack])
                after[attack] = evaluator.table(attacked.model, attacked.forget, attacked.retain)
                extra[attack] = attacked.extra
            metrics = {
                f"{attack}.{split}.{metric}": value
                for attack, table in {"clean": before, **after}.items()
                for split, values in table.items()
                for metric, value in values.items()
            }
            metrics |= {f"{attack}.{key}": value for attack, values in extra.items() for key, value in values.items()}
            row = {
                "name": name,
                "learning_rate_scale": scale,
                "learning_rate": learning_rate,
                "epochs": epochs,
                "before": before,
                "after": after,
                "extra": extra,
                "train_seconds": clock.train_seconds,
                "attack_seconds": clock.seconds_since_training(),
            }
            return Evaluation(row, metrics)

        params = {
            "method": method,
            "forget": population["forget_split"],
            "seed": seed,
            "learning_rate_scale": scale,
            "hparams": hparams,
            "optimization": optimization,
            "attacks": attacks,
        }
        return qa_run(name, registered_method, hparams, optimization, seed, sets, resume_dir, evaluate, params)

    grid = [(scale, epochs) for scale in population["learning_rate_scales"] for epochs in population["epochs"]]
    models = run_specs(job, [grid_point(scale, epochs) for scale, epochs in grid])
    return {
        "method": method,
        "seed": seed,
        "forget": population["forget_split"],
        "n_forget_evaluated": len(sets["forget"]),
        "n_attack_slice": len(sets["attack_slice"]),
        "n_retain_evaluated": len(sets["retain"]),
        "truth_ratio_rows": truth_ratio_rows(sets),
        "prompt_format": prompt_format_of(tokenizer),
        "models": models,
    }


def calibrated_point(evaluator: Evaluator, model, sets: dict, paraphrased: list[dict], full: bool) -> dict:
    """Forget ES (exact and paraphrased questions) and retain ES at the current weights; every candidate metric if `full`."""
    if full:
        point = {f"forget_{k}": v for k, v in evaluator.metrics(model, sets["forget"]).items()}
        point.update({f"retain_{k}": v for k, v in evaluator.metrics(model, sets["retain"]).items()})
    else:
        point = {
            "forget_extraction_strength": evaluator.extraction_strength(model, sets["forget"]),
            "retain_extraction_strength": evaluator.extraction_strength(model, sets["retain"]),
        }
    point["forget_paraphrased_extraction_strength"] = evaluator.extraction_strength(model, paraphrased)
    return point


def run_calibration(
    *,
    target_dir: Path,
    tofu_dir: Path,
    variant: str,
    forget_splits: list[str],
    seeds: list[int],
    unlearning: dict,
    p4: dict,
    evaluation: dict,
    device: str,
    parent_file: Path,
    resume_dir: Path,
) -> dict:
    """For every forget split × seed: unlearn, calibrate α* per τ by bisection on retain ES, evaluate at α*, α = 1 and the α grid."""
    tokenizer, target = load_tokenizer(target_dir), load_model(target_dir, "cpu")
    calibration = p4["calibration"]
    method, optimization, hparams = variant_settings(variant, unlearning, p4, len(decoder_layers(target)))
    job = _job(target, target_dir, tofu_dir, device, unlearning, parent_file, stage="calibrate")
    evaluator = Evaluator(tokenizer, evaluation, p4)
    # The main τ first, so its bisection count is its own; the sweep's τ reuse its cached evaluations.
    taus = [calibration["tau"], *sorted(set(calibration["tau_sweep"]) - {calibration["tau"]})]

    def seed_spec(split: str, sets: dict, paraphrased: list[dict], reference: dict, seed: int) -> RunSpec:
        def evaluate(unlearned, clock: Clock) -> Evaluation:
            mixer = ModelMixer(device_copy(target, device), target.state_dict(), unlearned.state_dict())
            del unlearned
            cache = {0.0: reference["retain_extraction_strength"]}

            def retain_es(alpha: float) -> float:
                return evaluator.extraction_strength(mixer.set_alpha(alpha), sets["retain"])

            by_tau = {}
            for tau in taus:
                result = calibrate(
                    retain_es, tau, calibration["alpha_tolerance"], calibration["max_evaluations"], cache[0.0], cache
                )
                full = tau == calibration["tau"]
                point = calibrated_point(evaluator, mixer.set_alpha(result.alpha), sets, paraphrased, full=full)
                by_tau[f"{tau:g}"] = {
                    "alpha": result.alpha,
                    "bracket": list(result.bracket),
                    "threshold": result.threshold,
                    "n_evaluations": result.n_evaluations,
                    "evaluations": result.evaluations,
                    **point,
                }
            uncalibrated = calibrated_point(evaluator, mixer.set_alpha(1.0), sets, paraphrased, full=False)
            curve = []
            for alpha in calibration["alpha_grid"]:
                mixed = mixer.set_alpha(alpha)
                retain = cache[alpha] if alpha in cache else evaluator.extraction_strength(mixed, sets["retain"])
                forget = evaluator.extraction_strength(mixed, sets["forget"])
                curve.append(
                    {"alpha": alpha, "retain_extraction_strength": retain, "forget_extraction_strength": forget}
                )
            main = by_tau[f"{calibration['tau']:g}"]
            metrics = {
                "alpha_star": main["alpha"],
                **{f"calibrated.{k}": v for k, v in main.items() if isinstance(v, float)},
                **{f"uncalibrated.{k}": v for k, v in uncalibrated.items()},
            }
            row = {
                "forget": split,
                "seed": seed,
                "calibrated": by_tau,
                "uncalibrated": uncalibrated,
                "curve": curve,
                "train_seconds": clock.train_seconds,
                "calibration_seconds": clock.seconds_since_training(),
            }
            return Evaluation(row, metrics)

        name = f"p4_calibrate_{variant}_{split}_seed{seed}"
        params = {
            "variant": variant,
            "method": method,
            "forget": split,
            "seed": seed,
            "hparams": hparams,
            "optimization": optimization,
            "calibration": calibration,
        }
        return qa_run(name, method, hparams, optimization, seed, sets, resume_dir, evaluate, params)

    runs, references = [], {}
    for split in forget_splits:
        sets = load_sets(tofu_dir, split, p4)
        paraphrased = with_paraphrased_questions(sets["forget"])
        references[split] = calibrated_point(evaluator, device_copy(target, device), sets, paraphrased, full=True)
        runs += run_specs(job, [seed_spec(split, sets, paraphrased, references[split], seed) for seed in seeds])
    return {
        "variant": variant,
        "method": method,
        "hparams": hparams,
        "tau": calibration["tau"],
        "prompt_format": prompt_format_of(tokenizer),
        "references": references,
        "runs": runs,
    }

# The only place with Python logic for the DAG: config validation, target lists, input functions.

import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from robust_unlearning.config import RETAIN_OF_FORGET, ConfigError, distributed_settings, p4_variant_optimization, parse_command_line_values, validate_config

from snakemake.utils import update_config

update_config(config, parse_command_line_values(workflow.config_settings.config or {}))
try:
    config.update(validate_config(config))
except ConfigError as error:
    raise WorkflowError(str(error)) from None


RESULTS = "results"
BENCHMARKS = ["tofu", "wmdp", "safety"]
FINETUNED_MODELS = ["target"] + [RETAIN_OF_FORGET[s] for s in config["tofu"]["forget_splits"]]
EVALUATED_MODELS = ["base"] + FINETUNED_MODELS
LARGEST_FORGET = max(config["tofu"]["forget_splits"])
TOFU_EVAL_SPLITS = [
    *config["tofu"]["forget_splits"],
    RETAIN_OF_FORGET[LARGEST_FORGET],
    LARGEST_FORGET.replace("forget", "holdout"),
    "real_authors",
    "world_facts",
]


def resources_of(kind):
    """Scheduler resources of a kind of job; threads are left out because Snakemake takes them separately."""
    return {k: v for k, v in config["resources"][kind].items() if k != "threads"}


def threads_of(kind):
    return config["resources"][kind]["threads"]


def config_slice(*keys):
    """The config keys a rule depends on, passed as `params` so that changing them reruns the rule."""
    return {key: config[key] for key in keys}


def mlflow_parent():
    return f"{RESULTS}/mlflow/parent_run.json"


def pretrains_on_world():
    """From scratch, or a pre-trained model with model.world_pretraining, learns the world corpus first."""
    return config["model"]["source"] == "scratch" or config["model"]["world_pretraining"]


def base_model_inputs(wildcards):
    """Pre-training on the world needs its corpus, and a new (scratch) tokenizer also TOFU's text; importing needs nothing."""
    inputs = {"corpus": f"{RESULTS}/data/pretrain/corpus.jsonl"} if pretrains_on_world() else {}
    if config["model"]["source"] == "scratch":
        inputs["tofu"] = f"{RESULTS}/data/tofu"
    return inputs


def finetune_split(wildcards):
    return "full" if wildcards.finetuned == "target" else wildcards.finetuned


def model_dir(name):
    return f"{RESULTS}/models/{name}"


def one_of(names):
    """A wildcard constraint matching exactly these names (nothing when there are none)."""
    return "|".join(names) or "(?!)"


# tofu.published: fine-tuned models imported as they are; the others are fine-tuned here.
PUBLISHED_MODELS = config["tofu"]["published"]
TRAINED_FINETUNES = [name for name in FINETUNED_MODELS if name not in PUBLISHED_MODELS]


# ---- P1 RNA (rules/p1_rna.smk) ----


def p1_job_inputs(wildcards):
    return {
        "base": model_dir("base"),
        "wmdp": f"{RESULTS}/data/wmdp",
        "perturbed": f"{RESULTS}/p1/perturbed_general_mcq.jsonl",
        "parent": mlflow_parent(),
    }


def p1_job_config(wildcards):
    """What one method × seed job depends on: ℓ, ν, chunk length, forget topics and its own method's settings, not the sweeps'."""
    p1 = config["p1"]
    keys = ["layer", "rna", "max_length", "forget_topics", wildcards.p1_method]
    return {"device": config["device"], "evaluation": config["evaluation"], "p1": {key: p1[key] for key in keys}}


def p1_sweep_config(wildcards):
    p1 = config["p1"]
    job = p1_job_config(wildcards)
    return {**job, "p1": {**job["p1"], "seeds": p1["seeds"], "nu_sweep": p1["nu_sweep"], "layer_sweep": p1["layer_sweep"]}}


def p1_run_files():
    """The rows the P1 report reads: the base model, every method × seed job, every method's sweep."""
    p1 = config["p1"]
    return [
        f"{RESULTS}/p1/runs/base.json",
        *expand(f"{RESULTS}/p1/runs/{{method}}/seed{{seed}}.json", method=p1["methods"], seed=p1["seeds"]),
        *expand(f"{RESULTS}/p1/sweeps/{{method}}.json", method=p1["methods"]),
    ]


def p1_benchmark_files():
    """The same jobs' Snakemake benchmarks, so the verdicts state the track's measured wall time."""
    p1 = config["p1"]
    return [
        f"{RESULTS}/benchmarks/p1/evaluate_base.tsv",
        *expand(f"{RESULTS}/benchmarks/p1/unlearn/{{method}}_seed{{seed}}.tsv", method=p1["methods"], seed=p1["seeds"]),
        *expand(f"{RESULTS}/benchmarks/p1/sweep/{{method}}.tsv", method=p1["methods"]),
    ]


# ---- P2 SA/SU (rules/p2_sasu.smk) ----


def unlearn_config(wildcards):
    """What one generic `unlearn` job depends on (rules/unlearn.smk): its method's settings and its defense's."""
    unlearning = config["unlearning"]
    defenses = {} if wildcards.defense == "none" else {wildcards.defense: unlearning["defenses"][wildcards.defense]}
    return {"max_length": unlearning["max_length"], "methods": {wildcards.method: unlearning["methods"][wildcards.method]}, "defenses": defenses}


P2_UTILITY_SETS = ["retain", "real_authors", "world_facts"]


def p2_utility_sets():
    """Benign-trigger set name → the TOFU split its questions come from."""
    return {name: config["p2"]["utility_retain_split"] if name == "retain" else name for name in P2_UTILITY_SETS}


def p2_oracles():
    """Forget split → the retain-only oracle that gives its forget quality."""
    return {split: model_dir(RETAIN_OF_FORGET[split]) for split in config["p2"]["forget_splits"]}


def p2_reference_inputs(wildcards):
    return {
        "target": model_dir("target"),
        "oracles": list(p2_oracles().values()),
        "tofu": f"{RESULTS}/data/tofu",
        "data": f"{RESULTS}/p2/data",
        "parent": mlflow_parent(),
    }


def p2_evaluation_config():
    """The P2 keys an evaluation depends on (not the grid lists or the verdict thresholds)."""
    return {key: config["p2"][key] for key in ("evaluation", "utility_retain_split")}


def p2_unlearning_config(wildcards):
    """One cell depends on its own method's settings and SU's η only."""
    unlearning = config["unlearning"]
    return {
        "max_length": unlearning["max_length"],
        "methods": {wildcards.p2_method: unlearning["methods"][wildcards.p2_method]},
        "defenses": {"su": unlearning["defenses"]["su"]},
    }


def p2_cells(kind="p2/cells", suffix="json"):
    """Every cell's result file, or with kind="benchmarks/p2/cells", suffix="tsv" its Snakemake benchmark."""
    p2 = config["p2"]
    return expand(f"{RESULTS}/{kind}/{{method}}_{{forget}}_seed{{seed}}.{suffix}", method=p2["methods"], forget=p2["forget_splits"], seed=p2["seeds"])


def p2_benchmarks():
    """The jobs' Snakemake benchmarks, so the verdicts state the track's measured job times."""
    return p2_cells("benchmarks/p2/cells", "tsv") + [f"{RESULTS}/benchmarks/p2/reference.tsv"]


# ---- P3 Vaccine (rules/p3_vaccine.smk) ----


def p3_job_inputs(wildcards):
    return {"base": model_dir("base"), "safety": f"{RESULTS}/data/safety", "parent": mlflow_parent()}


def p3_job_config(wildcards):
    """What an alignment-and-attack job depends on besides its cells: not the seed list, the sweeps or the verdict thresholds."""
    p3 = config["p3"]
    keys = ["judge", "judge_model", "judge_threshold", "alignment", "user_finetune", "evaluation"]
    # A fine-tuning defense's settings (p3.ewc, p3.kl) belong to its own method's jobs only: tuning λ reruns those.
    keys += [name for name in ("ewc", "kl", "vlguard") if getattr(wildcards, "p3_method", None) == name]
    return {"device": config["device"], "p3": {key: p3[key] for key in keys}}


def p3_table1_cells():
    """The (n, p) cells of a Table 1 job: n_finetune at every harmful ratio, then Table 2's sizes at n_sweep_ratio."""
    p3 = config["p3"]
    cells = [{"n": p3["n_finetune"], "p": p} for p in p3["harmful_ratios"]]
    sweep = [{"n": n, "p": p3["n_sweep_ratio"]} for n in p3["n_sweep"]]
    return cells + [cell for cell in sweep if cell not in cells]


def p3_table1_alignment(wildcards):
    rho = config["p3"]["rho"] if wildcards.p3_method in ("vaccine", "random") else 0.0
    return [{"method": wildcards.p3_method, "rho": rho}]


def p3_sweep_alignments():
    """Vaccine at every ρ of Table 6, less the ρ whose p = rho_sweep_ratio cell Table 1's vaccine jobs already run."""
    p3 = config["p3"]
    covered = "vaccine" in p3["methods"] and p3["rho_sweep_ratio"] in p3["harmful_ratios"]
    return [{"method": "vaccine", "rho": rho} for rho in p3["rho_sweep"] if not (covered and rho == p3["rho"])]


def p3_jobs():
    """Every P3 job's output name below p3/ (and below benchmarks/p3/): each Table 1 method × seed, each sweep seed."""
    p3 = config["p3"]
    jobs = expand("runs/{method}/seed{seed}", method=p3["methods"], seed=p3["seeds"])
    return jobs + (expand("sweeps/seed{seed}", seed=p3["seeds"]) if p3_sweep_alignments() else [])


def p3_run_files():
    return [f"{RESULTS}/p3/{job}.json" for job in p3_jobs()]


def p3_benchmark_files():
    """The same jobs' Snakemake benchmarks, so the verdicts state the track's measured wall time."""
    return [f"{RESULTS}/benchmarks/p3/{job}.tsv" for job in p3_jobs()]


# ---- P4 effective evaluation (rules/p4_evaluation.smk) ----


def p4_variants():
    """Calibrated-table rows: every method, plus "<method>-ts" / "<method>-sel" for the methods that get the ascent tricks."""
    p4 = config["p4"]
    return [*p4["methods"], *(f"{method}-{trick}" for method in p4["tricks"]["methods"] for trick in ("ts", "sel"))]


def p4_job_inputs(wildcards):
    return {"target": model_dir("target"), "tofu": f"{RESULTS}/data/tofu", "parent": mlflow_parent()}


def _p4_method_config(variant):
    """A variant's own settings: its method's (RMU's live in p4.rmu), its trick's if it has one."""
    method, _, trick = variant.partition("-")
    unlearning, p4 = config["unlearning"], config["p4"]
    methods = {} if method == "rmu" else {method: unlearning["methods"][method]}
    own = {"rmu": p4["rmu"]} if method == "rmu" else {}
    if trick:
        own["tricks"] = {key: p4["tricks"][key] for key in ("temperature", "token_fraction")}
    return {"max_length": unlearning["max_length"], "methods": methods, "defenses": {}}, own


def p4_population_config(wildcards):
    """What one population job (method × seed) depends on: its method's settings, the grid, the attacks, the evaluation sizes."""
    unlearning, own = _p4_method_config(wildcards.p4_method)
    p4 = config["p4"]
    return {"unlearning": unlearning, "p4": {**own, **{key: p4[key] for key in ("population", "attacks", "evaluation")}}}


def p4_calibration_config(wildcards):
    """What one calibration job (method variant) depends on: not the population grid, the attack settings or the verdicts."""
    unlearning, own = _p4_method_config(wildcards.p4_variant)
    p4 = config["p4"]
    shared = {key: p4[key] for key in ("forget_splits", "seeds", "evaluation", "calibration")}
    return {"unlearning": unlearning, "p4": {**own, **shared, "attacks": {"heldout_fraction": p4["attacks"]["heldout_fraction"]}}}


def p4_population_files():
    p4 = config["p4"]
    return expand(f"{RESULTS}/p4/population/{{method}}_seed{{seed}}.json", method=p4["methods"], seed=p4["population"]["seeds"])


def p4_calibration_files():
    return expand(f"{RESULTS}/p4/calibration/{{variant}}.json", variant=p4_variants())


def p4_benchmark_files():
    """The P4 jobs' Snakemake benchmarks, so the verdicts state the track's measured job times and load."""
    return [path.replace(f"{RESULTS}/p4/", f"{RESULTS}/benchmarks/p4/").replace(".json", ".tsv") for path in p4_population_files() + p4_calibration_files()]


def track_targets(track):
    """The paper tables and figures of one track; `config["tracks"]` selects which tracks `rule all` builds."""
    targets = {
        "models": [f"{RESULTS}/tables/models.csv", f"{RESULTS}/figures/models.png"],
        "p2_sasu": [f"{RESULTS}/p2/{name}" for name in ("table2_sa.csv", "table3_su.csv", "figure1_utility_vs_step.png", "verdicts.md")],
        "p3_vaccine": [f"{RESULTS}/p3/{name}" for name in ("table1_hs_fa.csv", "table6_rho.csv", "figure_hs_vs_p.png", "figure_drift_vs_p.png", "verdicts.md")]
        + ([f"{RESULTS}/p3/table2_n.csv"] if config["p3"]["n_sweep"] else []),
        "p1_rna": [f"{RESULTS}/p1/{name}" for name in ("table_main.csv", "figure_nu_sweep.png", "figure_layer_sweep.png", "verdicts.md")],
        "p4_evaluation": [f"{RESULTS}/p4/{name}" for name in ("table_pcc.csv", "figure2_metric_robustness.png", "table_calibrated.csv", "figure3_es_vs_alpha.png", "verdicts.md")],
    }
    return targets[track]


def reference_inputs(wildcards):
    """The tidy results files the config's reference values are compared with (rule paper_vs_ours)."""
    return sorted({f"{RESULTS}/{value['results']}" for value in config["reference"]["values"]})


def get_final_output():
    tables = [path for track in config["tracks"] for path in track_targets(track)]
    return tables + ([f"{RESULTS}/paper_vs_ours.csv"] if config["reference"]["values"] else [])


def training_job(optimization_of):
    """Threads and resources of a training job whose stage runs on `distributed.processes` ranks of the optimization
    block `optimization_of(wildcards)` (unset: one process): a thread per rank at least and, on CUDA, a GPU per rank,
    all for the job's one task (train/distributed.py starts the ranks; profiles/slurm asks SLURM for one task)."""

    def processes(wildcards):
        return distributed_settings(optimization_of(wildcards))["processes"]

    resources = resources_of("train")
    if config["device"] == "cuda":
        resources["gpu"] = lambda wildcards: max(resources_of("train")["gpu"], processes(wildcards))
    return {"threads": lambda wildcards: max(threads_of("train"), processes(wildcards)), "resources": resources}

# Config validation, resources and input functions for the DAG; the config slices and file lists the rules read live in
# src/robust_unlearning/rule_params.py (tested without Snakemake).

import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from robust_unlearning import rule_params
from robust_unlearning.config import (
    RETAIN_OF_FORGET,
    ConfigError,
    distributed_settings,
    method_settings,
    p4_variant_optimization,
    parse_command_line_values,
    validate_config,
)
from robust_unlearning.rule_params import RESULTS, model_dir

from snakemake.utils import update_config

update_config(config, parse_command_line_values(workflow.config_settings.config or {}))
try:
    config.update(validate_config(config))
except ConfigError as error:
    raise WorkflowError(str(error)) from None


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


# ---- P2 SA/SU (rules/p2_sasu.smk) ----


def p2_reference_inputs(wildcards):
    return {
        "target": model_dir("target"),
        "oracles": list(rule_params.p2_oracles(config).values()),
        "tofu": f"{RESULTS}/data/tofu",
        "data": f"{RESULTS}/p2/data",
        "parent": mlflow_parent(),
    }


def p2_cell_optimization(wildcards):
    """The optimization block a P2 cell unlearns with: its method's on its forget split."""
    return method_settings(config, "p2", wildcards.p2_method, wildcards.p2_forget)["optimization"]


# ---- P3 Vaccine (rules/p3_vaccine.smk) ----


def p3_job_inputs(wildcards):
    return {"base": model_dir("base"), "safety": f"{RESULTS}/data/safety", "parent": mlflow_parent()}


# ---- P4 effective evaluation (rules/p4_evaluation.smk) ----


def p4_job_inputs(wildcards):
    return {"target": model_dir("target"), "tofu": f"{RESULTS}/data/tofu", "parent": mlflow_parent()}


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

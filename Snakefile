# Reproducibility pipeline for robust LLM unlearning and safety alignment.
# Data → base model → fine-tuning / alignment → unlearning with defenses → attacks →
# calibrated evaluation → paper tables and figures. See README.md for the DAG.

import os

from snakemake.utils import min_version

min_version("9.0")


# Relative to the workflow, so `--directory elsewhere` still starts from the embedded default.
configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "rules/common.smk"


wildcard_constraints:
    benchmark="|".join(BENCHMARKS),
    finetuned="|".join(FINETUNED_MODELS),
    model="[A-Za-z0-9_]+",


include: "rules/tracking.smk"
include: "rules/data.smk"
include: "rules/base.smk"
include: "rules/finetune.smk"
include: "rules/evaluate.smk"
include: "rules/unlearn.smk"
include: "rules/p1_rna.smk"
include: "rules/p2_sasu.smk"
include: "rules/p3_vaccine.smk"
include: "rules/p4_evaluation.smk"
include: "rules/report.smk"


# A run whose checkpoints would not fit on the results directory's filesystem fails before its first job
# (src/robust_unlearning/preflight.py). A dry run runs no hook; `--touch` writes nothing.
onstart:
    if not workflow.touch:
        from robust_unlearning import preflight

        try:
            preflight.check_disk(config, [str(f) for job in workflow.dag.needrun_jobs() for f in job.output])
        except preflight.DiskSpaceError as error:
            raise WorkflowError(str(error)) from None


# The workflow's MLflow parent run ends with its status (src/robust_unlearning/tracking.py). Imported here, not at
# the top: a dry run, which runs no hook, need not load MLflow. `--touch` runs no job.
onsuccess:
    if not workflow.touch:
        from robust_unlearning import tracking

        tracking.end_workflow_run(mlflow_parent(), "FINISHED", config["mlflow"], RESULTS)


onerror:
    if not workflow.touch:
        from robust_unlearning import tracking

        tracking.end_workflow_run(mlflow_parent(), "FAILED", config["mlflow"], RESULTS)


rule all:
    input:
        rule_params.final_targets(config),
    default_target: True


# One target per paper, whichever tracks `config["tracks"]` names: `snakemake --cores all p1_rna` re-makes P1's
# tables, figures and verdicts.
rule p1_rna:
    input:
        rule_params.track_targets(config, "p1_rna"),


rule p2_sasu:
    input:
        rule_params.track_targets(config, "p2_sasu"),


rule p3_vaccine:
    input:
        rule_params.track_targets(config, "p3_vaccine"),


rule p4_evaluation:
    input:
        rule_params.track_targets(config, "p4_evaluation"),

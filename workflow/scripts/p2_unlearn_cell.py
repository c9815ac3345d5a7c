from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning.data.io import write_json
from robust_unlearning.experiments.p2_sasu import run_cell
from robust_unlearning.provenance import with_provenance
from robust_unlearning.train import distributed
from robust_unlearning.train.unlearn import split_method_settings

wildcards = snakemake.wildcards
optimization, _ = split_method_settings(snakemake.params.unlearning, wildcards.p2_method)
cell = distributed.launch(
    run_cell,
    distributed.settings(optimization),
    target_dir=Path(snakemake.input.target),
    tofu_dir=Path(snakemake.input.tofu),
    sa_forget_file=Path(snakemake.input.data) / f"{wildcards.p2_forget}_sa_seed{wildcards.p2_seed}.jsonl",
    trigger_dir=Path(snakemake.input.data),
    method=wildcards.p2_method,
    forget_split=wildcards.p2_forget,
    retain_split=snakemake.params.retain_split,
    seed=int(wildcards.p2_seed),
    unlearning=snakemake.params.unlearning,
    p2=snakemake.params.p2,
    evaluation=snakemake.params.evaluation,
    device=snakemake.params.device,
    parent_file=Path(snakemake.input.parent),
    resume_dir=Path(snakemake.params.resume),
)
write_json(snakemake.output[0], with_provenance(cell, snakemake))

from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning.train.unlearn import split_method_settings
from robust_unlearning.data.io import write_json
from robust_unlearning.experiments.p4_evaluation import run_population
from robust_unlearning.provenance import with_provenance
from robust_unlearning.train import distributed

cfg = snakemake.params.cfg
optimization, _ = split_method_settings(cfg["unlearning"], snakemake.wildcards.p4_method.partition("-")[0])
job = distributed.launch(
    run_population,
    distributed.settings(optimization),
    target_dir=Path(snakemake.input.target),
    tofu_dir=Path(snakemake.input.tofu),
    method=snakemake.wildcards.p4_method,
    seed=int(snakemake.wildcards.p4_seed),
    unlearning=cfg["unlearning"],
    p4=cfg["p4"],
    evaluation=snakemake.params.evaluation,
    device=snakemake.params.device,
    parent_file=Path(snakemake.input.parent),
    resume_dir=Path(snakemake.params.resume),
)
write_json(snakemake.output[0], with_provenance(job, snakemake))

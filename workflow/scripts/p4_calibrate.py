from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning.train.unlearn import split_method_settings
from robust_unlearning.data.io import write_json
from robust_unlearning.experiments.p4_evaluation import run_calibration
from robust_unlearning.provenance import with_provenance
from robust_unlearning.train import distributed

cfg = snakemake.params.cfg
optimization, _ = split_method_settings(cfg["unlearning"], snakemake.wildcards.p4_variant.partition("-")[0])
job = distributed.launch(
    run_calibration,
    distributed.settings(optimization),
    target_dir=Path(snakemake.input.target),
    tofu_dir=Path(snakemake.input.tofu),
    variant=snakemake.wildcards.p4_variant,
    forget_splits=cfg["p4"]["forget_splits"],
    seeds=cfg["p4"]["seeds"],
    unlearning=cfg["unlearning"],
    p4=cfg["p4"],
    evaluation=snakemake.params.evaluation,
    device=snakemake.params.device,
    parent_file=Path(snakemake.input.parent),
    resume_dir=Path(snakemake.params.resume),
)
write_json(snakemake.output[0], with_provenance(job, snakemake))

from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning import tracking
from robust_unlearning.data.io import write_json
from robust_unlearning.experiments.p3_vaccine import alignment_key, run_alignments
from robust_unlearning.provenance import with_provenance

cfg, seed = snakemake.params.cfg, int(snakemake.wildcards.p3_seed)
alignments, cells = snakemake.params.alignments, snakemake.params.cells
name = "_".join([snakemake.rule, *snakemake.wildcards])
with tracking.job_run(
    snakemake.input.parent,
    name,
    {**cfg, "alignments": alignments, "cells": cells, "seed": seed},
    tags={"stage": "align", "track": "p3_vaccine"},
):
    runs = run_alignments(
        base_dir=Path(snakemake.input.base),
        safety_dir=Path(snakemake.input.safety),
        p3=cfg["p3"],
        alignments=alignments,
        cells=cells,
        seed=seed,
        device=cfg["device"],
        threads=snakemake.threads,
        resume_dir=Path(snakemake.params.resume),
        log=tracking.log_metrics,
    )
    for run in runs:
        key = alignment_key(run["method"], run["rho"])
        for cell in run["cells"]:
            metrics = ("harmful_score", "finetune_accuracy", "embedding_drift", "train_seconds")
            tracking.log_metrics({f"{key}.n{cell['n']}_p{cell['harmful_ratio']:g}.{m}": cell[m] for m in metrics})
    write_json(snakemake.output[0], with_provenance({"runs": runs}, snakemake))

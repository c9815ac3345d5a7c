from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning import tracking
from robust_unlearning.data.io import write_json
from robust_unlearning.experiments.p1_rna import evaluate_base
from robust_unlearning.provenance import with_provenance

cfg = snakemake.params.cfg
with tracking.job_run(
    snakemake.input.parent, "p1_evaluate_base", cfg, tags={"stage": "evaluate", "track": "p1_rna"}, trains=False
):
    row = evaluate_base(
        base_dir=Path(snakemake.input.base),
        wmdp_dir=Path(snakemake.input.wmdp),
        perturbed_file=Path(snakemake.input.perturbed),
        p1=cfg["p1"],
        evaluation=cfg["evaluation"],
        device=cfg["device"],
        threads=snakemake.threads,
    )
    tracking.log_metrics({k: v for k, v in row.items() if k.endswith(("_acc", "_acc_norm"))})
    write_json(snakemake.output[0], with_provenance({"rows": [row]}, snakemake, trains=False))

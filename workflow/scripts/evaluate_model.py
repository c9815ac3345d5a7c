from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning import tracking
from robust_unlearning.data.io import write_json
from robust_unlearning.eval.suite import evaluate_model
from robust_unlearning.provenance import with_provenance

cfg = snakemake.params.cfg
with tracking.job_run(
    snakemake.input.parent,
    f"evaluate_{snakemake.wildcards.model}",
    {**cfg, "splits": snakemake.params.splits},
    tags={"stage": "evaluate"},
):
    metrics = evaluate_model(
        Path(snakemake.input.model),
        Path(snakemake.input.tofu),
        Path(snakemake.input.wmdp),
        snakemake.params.splits,
        cfg["evaluation"],
        cfg["device"],
    )
    tracking.log_metrics(
        {f"{split}.{name}": value for split, values in metrics["tofu"].items() for name, value in values.items()}
    )
    tracking.log_metrics({f"{name}.accuracy": value for name, value in metrics["mcq"].items()})
    write_json(snakemake.output[0], with_provenance(metrics, snakemake))

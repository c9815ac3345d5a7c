from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning import tracking
from robust_unlearning.data.io import write_json
from robust_unlearning.experiments.p2_sasu import evaluate_references
from robust_unlearning.provenance import with_provenance

params = {"p2": snakemake.params.p2, "evaluation": snakemake.params.evaluation, "oracles": snakemake.params.oracles}
with tracking.job_run(snakemake.input.parent, "p2_reference", params, tags={"stage": "evaluate", "track": "p2_sasu"}):
    reference = evaluate_references(
        target_dir=Path(snakemake.input.target),
        oracle_dirs={split: Path(path) for split, path in snakemake.params.oracles.items()},
        tofu_dir=Path(snakemake.input.tofu),
        trigger_dir=Path(snakemake.input.data),
        retain_split=snakemake.params.p2["utility_retain_split"],
        p2=snakemake.params.p2,
        evaluation=snakemake.params.evaluation,
        device=snakemake.params.device,
    )
    tracking.log_metrics({f"target.{key}": value for key, value in reference["target"]["utility"].items()})
    write_json(snakemake.output[0], with_provenance(reference, snakemake))

from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning import tracking
from robust_unlearning.train import distributed
from robust_unlearning.train.stages import finetune

cfg = snakemake.params.cfg
with tracking.job_run(
    snakemake.input.parent,
    f"finetune_{snakemake.wildcards.finetuned}",
    {**cfg, "split": snakemake.params.split},
    tags={"stage": "finetune"},
):
    summary = distributed.launch(
        finetune,
        distributed.settings(cfg["finetune"]),
        cfg,
        base_dir=Path(snakemake.input.base),
        qa_file=Path(snakemake.input.tofu) / f"{snakemake.params.split}.jsonl",
        corpus_file=Path(snakemake.input.corpus),
        out_dir=Path(snakemake.output[0]),
        resume_file=Path(snakemake.params.resume),
        log=tracking.log_metrics,
    )
    tracking.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float))})

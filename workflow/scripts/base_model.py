from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning import tracking
from robust_unlearning.data.io import read_jsonl
from robust_unlearning.train.stages import import_base, pretrain

cfg = snakemake.params.cfg
out_dir = Path(snakemake.output[0])
with tracking.job_run(snakemake.input.parent, "base_model", cfg, tags={"stage": "pretrain"}):
    # The inputs say what to do (rules/common.smk base_model_inputs): a corpus to pre-train on, TOFU text for a new tokenizer.
    if "corpus" in snakemake.input.keys():
        tofu_texts = []
        if "tofu" in snakemake.input.keys():
            tofu_texts = [
                r["question"] + " " + r["answer"] for r in read_jsonl(Path(snakemake.input.tofu) / "full.jsonl")
            ]
        summary = pretrain(
            cfg, Path(snakemake.input.corpus), tofu_texts, out_dir, Path(snakemake.params.resume), tracking.log_metrics
        )
    else:
        summary = import_base(cfg, out_dir)
    tracking.log_metrics({k: v for k, v in summary.items() if isinstance(v, (int, float))})

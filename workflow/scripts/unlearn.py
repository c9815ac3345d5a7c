from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning import tracking
from robust_unlearning.data.io import read_jsonl
from robust_unlearning.train import distributed
from robust_unlearning.train.unlearn import split_method_settings, unlearn

wc, settings, tofu = snakemake.wildcards, snakemake.params.unlearning, Path(snakemake.input.tofu)
optimization, hparams = split_method_settings(settings, wc.method)
name = f"unlearn_{wc.model}_{wc.forget}_{wc.method}_{wc.defense}_seed{wc.seed}"
params = {
    "model": wc.model,
    "forget": wc.forget,
    "retain": snakemake.params.retain_split,
    "seed": int(wc.seed),
    **settings,
}
with tracking.job_run(snakemake.input.parent, name, params, tags={"stage": "unlearn"}):
    distributed.launch(
        unlearn,
        distributed.settings(optimization),
        model_dir=Path(snakemake.input.model),
        forget=read_jsonl(tofu / f"{wc.forget}.jsonl"),
        retain=read_jsonl(tofu / f"{snakemake.params.retain_split}.jsonl"),
        idk_answers=[r["text"] for r in read_jsonl(tofu / "idk.jsonl")],
        method=wc.method,
        hparams=hparams,
        defenses=settings["defenses"],
        optimization=optimization,
        seed=int(wc.seed),
        device=snakemake.params.device,
        max_length=settings["max_length"],
        out_dir=Path(snakemake.output[0]),
        resume_file=Path(snakemake.params.resume),
        log=tracking.log_metrics,
    )

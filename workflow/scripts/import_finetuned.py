from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning import tracking
from robust_unlearning.models.factory import load_model, load_tokenizer, save_atomically

name, source = snakemake.wildcards.finetuned, snakemake.params.source
with tracking.job_run(
    snakemake.input.parent, f"import_{name}", {"source": source, "model": name}, tags={"stage": "finetune"}
):
    model = load_model(source, "cpu", config_key=f"tofu.published.{name}")
    # A published fine-tune of model.source speaks its tokenizer and chat template, which the base checkpoint carries
    # (published TOFU checkpoints often ship no tokenizer: OpenUnlearning loads it from the base model's repo).
    save_atomically(model, load_tokenizer(snakemake.input.base), snakemake.output[0])
    tracking.log_metrics({"n_parameters": sum(p.numel() for p in model.parameters())})

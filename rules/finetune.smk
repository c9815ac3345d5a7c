# TOFU-style fine-tuning: `full` → target model; retainXX → retain-only oracle of forgetYY; or, for a model named in
# tofu.published, its published checkpoint imported as it is.


rule finetune:
    input:
        base=model_dir("base"),
        tofu=f"{RESULTS}/data/tofu",
        corpus=f"{RESULTS}/data/pretrain/corpus.jsonl",
        parent=mlflow_parent(),
    output:
        directory(model_dir("{finetuned}")),
    wildcard_constraints:
        finetuned=one_of(TRAINED_FINETUNES),
    log:
        f"{RESULTS}/logs/finetune/{{finetuned}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/finetune/{{finetuned}}.tsv"
    params:
        cfg=config_slice("seed", "device", "finetune"),
        split=finetune_split,
        resume=lambda wc: f"{RESULTS}/resume/finetune_{wc.finetuned}.pt",
    threads: training_job(lambda wc: config["finetune"])["threads"]
    resources:
        **training_job(lambda wc: config["finetune"])["resources"],
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/finetune.py"


rule import_finetuned:
    input:
        base=model_dir("base"),
        parent=mlflow_parent(),
    output:
        directory(model_dir("{finetuned}")),
    wildcard_constraints:
        finetuned=one_of(PUBLISHED_MODELS),
    log:
        f"{RESULTS}/logs/import_finetuned/{{finetuned}}.log",
    params:
        source=lambda wc: PUBLISHED_MODELS[wc.finetuned],
    # Sized as the base model's import: a 7B checkpoint is loaded whole in fp32 (≈ 27 GB of memory).
    threads: threads_of("train")
    resources:
        **resources_of("train"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/import_finetuned.py"

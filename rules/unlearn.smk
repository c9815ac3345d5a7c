# Generic unlearning of a TOFU forget split from a fine-tuned model: any registered method, with no defense
# or one registered defense, one seed; per-step forget/retain losses go to MLflow. Tracks that run many
# variants per job (P1, P2) group them in their own rules; this one makes single models on request, e.g.
# `snakemake results/unlearned/target/forget10/npo/su/seed0`.


rule unlearn:
    input:
        model=lambda wc: model_dir(wc.model),
        tofu=f"{RESULTS}/data/tofu",
        parent=mlflow_parent(),
    output:
        directory(f"{RESULTS}/unlearned/{{model}}/{{forget}}/{{method}}/{{defense}}/seed{{seed}}"),
    log:
        f"{RESULTS}/logs/unlearn/{{model}}/{{forget}}/{{method}}/{{defense}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/unlearn/{{model}}/{{forget}}/{{method}}/{{defense}}/seed{{seed}}.tsv"
    wildcard_constraints:
        forget="|".join(RETAIN_OF_FORGET),
        method="|".join(config["unlearning"]["methods"]),
        defense="|".join(["none", *config["unlearning"]["defenses"]]),
        seed=r"\d+",
    params:
        unlearning=lambda wc: rule_params.unlearn_job(config, wc.method, wc.defense),
        retain_split=lambda wc: RETAIN_OF_FORGET[wc.forget],
        device=config["device"],
        resume=lambda wc: f"{RESULTS}/resume/unlearn/{wc.model}_{wc.forget}_{wc.method}_{wc.defense}_seed{wc.seed}.pt",
    threads: training_job(lambda wc: config["unlearning"]["methods"][wc.method]["optimization"])["threads"]
    resources:
        **training_job(lambda wc: config["unlearning"]["methods"][wc.method]["optimization"])["resources"],
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/unlearn.py"

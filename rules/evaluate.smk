# Metrics of one model on the TOFU splits and on the two MCQ sets.


rule evaluate_model:
    input:
        model=lambda wc: model_dir(wc.model),
        tofu=f"{RESULTS}/data/tofu",
        wmdp=f"{RESULTS}/data/wmdp",
        parent=mlflow_parent(),
    output:
        f"{RESULTS}/eval/{{model}}/metrics.json",
    log:
        f"{RESULTS}/logs/evaluate/{{model}}.log",
    params:
        cfg={"device": config["device"], "evaluation": rule_params.shared_evaluation(config)},
        splits=TOFU_EVAL_SPLITS,
    threads: threads_of("evaluate")
    resources:
        **resources_of("evaluate"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/evaluate_model.py"

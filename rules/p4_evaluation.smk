# P4, effective evaluation of unlearning (arXiv 2406.09179): a population of unlearned models attacked by four
# red-teaming attacks → metric robustness (PCC table, Figure 2); calibration by model mixing → calibrated table,
# Figure 3; verdicts. Jobs group several unlearning runs each (imports cost more than one run of the tiny model).


rule p4_population:
    input:
        unpack(p4_job_inputs),
    output:
        f"{RESULTS}/p4/population/{{p4_method}}_seed{{p4_seed}}.json",
    log:
        f"{RESULTS}/logs/p4/population/{{p4_method}}_seed{{p4_seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/p4/population/{{p4_method}}_seed{{p4_seed}}.tsv"
    wildcard_constraints:
        p4_method="|".join(config["p4"]["methods"]),
        p4_seed=r"\d+",
    params:
        cfg=lambda wc: rule_params.p4_population(config, wc.p4_method),
        evaluation=rule_params.shared_evaluation(config),
        device=config["device"],
        resume=f"{RESULTS}/resume/p4",
    threads: training_job(lambda wc: p4_variant_optimization(config, wc.p4_method))["threads"]
    resources:
        **training_job(lambda wc: p4_variant_optimization(config, wc.p4_method))["resources"],
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p4_population.py"


rule p4_calibrate:
    input:
        unpack(p4_job_inputs),
    output:
        f"{RESULTS}/p4/calibration/{{p4_variant}}.json",
    log:
        f"{RESULTS}/logs/p4/calibration/{{p4_variant}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/p4/calibration/{{p4_variant}}.tsv"
    wildcard_constraints:
        p4_variant="|".join(rule_params.p4_variants(config)),
    params:
        cfg=lambda wc: rule_params.p4_calibration(config, wc.p4_variant),
        evaluation=rule_params.shared_evaluation(config),
        device=config["device"],
        resume=f"{RESULTS}/resume/p4",
    threads: training_job(lambda wc: p4_variant_optimization(config, wc.p4_variant))["threads"]
    resources:
        **training_job(lambda wc: p4_variant_optimization(config, wc.p4_variant))["resources"],
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p4_calibrate.py"


rule p4_table_pcc:
    input:
        population=rule_params.p4_population_files(config),
    output:
        csv=report(
            f"{RESULTS}/p4/table_pcc.csv", caption="../workflow/report/p4_table_pcc.rst", category="P4 evaluation"
        ),
        md=f"{RESULTS}/p4/table_pcc.md",
        tex=f"{RESULTS}/p4/table_pcc.tex",
        population=f"{RESULTS}/p4/population.csv",
    log:
        f"{RESULTS}/logs/p4/table_pcc.log",
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p4_table_pcc.py"


rule p4_figure2:
    input:
        population=rule_params.p4_population_files(config),
    output:
        png=report(
            f"{RESULTS}/p4/figure2_metric_robustness.png",
            caption="../workflow/report/p4_figure2.rst",
            category="P4 evaluation",
        ),
        pdf=f"{RESULTS}/p4/figure2_metric_robustness.pdf",
    log:
        f"{RESULTS}/logs/p4/figure2.log",
    params:
        metrics=config["p4"]["metrics"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p4_figure2.py"


rule p4_table_calibrated:
    input:
        calibration=rule_params.p4_calibration_files(config),
    output:
        csv=report(
            f"{RESULTS}/p4/table_calibrated.csv",
            caption="../workflow/report/p4_table_calibrated.rst",
            category="P4 evaluation",
        ),
        md=f"{RESULTS}/p4/table_calibrated.md",
        tex=f"{RESULTS}/p4/table_calibrated.tex",
        runs=f"{RESULTS}/p4/calibration.csv",
    log:
        f"{RESULTS}/logs/p4/table_calibrated.log",
    params:
        calibration=config["p4"]["calibration"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p4_table_calibrated.py"


rule p4_figure3:
    input:
        calibration=rule_params.p4_calibration_files(config),
    output:
        png=report(
            f"{RESULTS}/p4/figure3_es_vs_alpha.png",
            caption="../workflow/report/p4_figure3.rst",
            category="P4 evaluation",
        ),
        pdf=f"{RESULTS}/p4/figure3_es_vs_alpha.pdf",
    log:
        f"{RESULTS}/logs/p4/figure3.log",
    params:
        tau=config["p4"]["calibration"]["tau"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p4_figure3.py"


rule p4_verdicts:
    input:
        population=rule_params.p4_population_files(config),
        calibration=rule_params.p4_calibration_files(config),
        benchmarks=rule_params.p4_benchmark_files(config),
    output:
        page=report(f"{RESULTS}/p4/verdicts.md", caption="../workflow/report/p4_verdicts.rst", category="P4 evaluation"),
        setting=f"{RESULTS}/p4/setting.csv",
    log:
        f"{RESULTS}/logs/p4/verdicts.log",
    params:
        tau=config["p4"]["calibration"]["tau"],
        verdict=config["p4"]["verdict"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p4_verdicts.py"

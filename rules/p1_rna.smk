# P1, RNA (arXiv 2501.19202): unlearn the hazard corpus from the base model with RM and PO methods, plain
# and with Random Noise Augmentation, and score hazard / general / perturbed general MCQ accuracy.


rule p1_perturbed_mcq:
    input:
        wmdp=f"{RESULTS}/data/wmdp",
    output:
        f"{RESULTS}/p1/perturbed_general_mcq.jsonl",
    log:
        f"{RESULTS}/logs/p1/perturbed_mcq.log",
    params:
        settings=config["p1"]["perturbed_mcq"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p1_perturbed_mcq.py"


rule p1_evaluate_base:
    input:
        unpack(p1_job_inputs),
    output:
        f"{RESULTS}/p1/runs/base.json",
    log:
        f"{RESULTS}/logs/p1/evaluate_base.log",
    benchmark:
        f"{RESULTS}/benchmarks/p1/evaluate_base.tsv"
    params:
        cfg=rule_params.p1_base(config),
    threads: threads_of("evaluate")
    resources:
        **resources_of("evaluate"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p1_evaluate_base.py"


# One job per method × seed runs plain and +RNA and evaluates both in-process (imports cost as much as a run).
rule p1_unlearn:
    input:
        unpack(p1_job_inputs),
    output:
        f"{RESULTS}/p1/runs/{{p1_method}}/seed{{p1_seed}}.json",
    log:
        f"{RESULTS}/logs/p1/unlearn/{{p1_method}}_seed{{p1_seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/p1/unlearn/{{p1_method}}_seed{{p1_seed}}.tsv"
    wildcard_constraints:
        p1_method="|".join(config["p1"]["methods"]),
        p1_seed=r"\d+",
    params:
        cfg=lambda wc: rule_params.p1_job(config, wc.p1_method),
        grid="main",
        resume=f"{RESULTS}/resume/p1",
    threads: threads_of("train")
    resources:
        **resources_of("train"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p1_unlearn.py"


# The ν and ℓ sweeps of one method at one sweep seed (rule_params.p1_sweep_seeds), less the variants p1_unlearn
# already ran; a method whose sweep has no other variant has no job (rule_params.p1_swept_methods).
rule p1_sweep:
    input:
        unpack(p1_job_inputs),
    output:
        f"{RESULTS}/p1/sweeps/{{p1_method}}/seed{{p1_seed}}.json",
    log:
        f"{RESULTS}/logs/p1/sweep/{{p1_method}}_seed{{p1_seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/p1/sweep/{{p1_method}}_seed{{p1_seed}}.tsv"
    wildcard_constraints:
        p1_method="|".join(config["p1"]["methods"]),
        p1_seed=r"\d+",
    params:
        cfg=lambda wc: rule_params.p1_sweep(config, wc.p1_method),
        grid="sweep",
        resume=f"{RESULTS}/resume/p1",
    threads: threads_of("train")
    resources:
        **resources_of("train"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p1_unlearn.py"


rule p1_table_main:
    input:
        runs=rule_params.p1_run_files(config),
    output:
        table=report(f"{RESULTS}/p1/table_main.csv", caption="../workflow/report/p1_table_main.rst", category="P1 RNA"),
        table_md=f"{RESULTS}/p1/table_main.md",
        table_tex=f"{RESULTS}/p1/table_main.tex",
        runs=f"{RESULTS}/p1/runs.csv",
        metrics=f"{RESULTS}/metrics/p1.json",
    log:
        f"{RESULTS}/logs/p1/table_main.log",
    params:
        p1=config["p1"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p1_table_main.py"


rule p1_figure_nu_sweep:
    input:
        runs=rule_params.p1_run_files(config),
    output:
        png=report(
            f"{RESULTS}/p1/figure_nu_sweep.png", caption="../workflow/report/p1_figure_nu_sweep.rst", category="P1 RNA"
        ),
        pdf=f"{RESULTS}/p1/figure_nu_sweep.pdf",
    log:
        f"{RESULTS}/logs/p1/figure_nu_sweep.log",
    params:
        p1=config["p1"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p1_figure_nu_sweep.py"


rule p1_figure_layer_sweep:
    input:
        runs=rule_params.p1_run_files(config),
    output:
        png=report(
            f"{RESULTS}/p1/figure_layer_sweep.png",
            caption="../workflow/report/p1_figure_layer_sweep.rst",
            category="P1 RNA",
        ),
        pdf=f"{RESULTS}/p1/figure_layer_sweep.pdf",
    log:
        f"{RESULTS}/logs/p1/figure_layer_sweep.log",
    params:
        p1=config["p1"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p1_figure_layer_sweep.py"


rule p1_verdicts:
    input:
        runs=rule_params.p1_run_files(config),
        benchmarks=rule_params.p1_benchmark_files(config),
    output:
        page=report(f"{RESULTS}/p1/verdicts.md", caption="../workflow/report/p1_verdicts.rst", category="P1 RNA"),
        setting=f"{RESULTS}/p1/setting.csv",
    log:
        f"{RESULTS}/logs/p1/verdicts.log",
    params:
        p1=config["p1"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p1_verdicts.py"

# P2, Stealthy Attack / Scope-aware Unlearning (arXiv 2506.00359): SA-poisoned forget sets and benign-trigger
# sets → unlearning cells (method × forget split × seed, four variants each) → Tables 2–3, Figure 1, verdicts.


rule p2_stealthy_data:
    input:
        tofu=f"{RESULTS}/data/tofu",
    output:
        data=directory(f"{RESULTS}/p2/data"),
    log:
        f"{RESULTS}/logs/p2/stealthy_data.log",
    params:
        attack=config["p2"]["stealthy_attack"],
        forget_splits=config["p2"]["forget_splits"],
        seeds=config["p2"]["seeds"],
        utility_sets=rule_params.p2_utility_sets(config),
        seed=config["seed"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p2_stealthy_data.py"


rule p2_reference:
    input:
        unpack(p2_reference_inputs),
    output:
        f"{RESULTS}/p2/reference.json",
    log:
        f"{RESULTS}/logs/p2/reference.log",
    benchmark:
        f"{RESULTS}/benchmarks/p2/reference.tsv"
    params:
        oracles=rule_params.p2_oracles(config),
        p2=rule_params.p2_evaluation(config),
        evaluation=rule_params.shared_evaluation(config),
        device=config["device"],
    threads: threads_of("evaluate")
    resources:
        **resources_of("evaluate"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p2_reference.py"


# One job per method × forget split × seed runs the four variants and evaluates them in-process
# (imports and model loading cost more than one variant's training on the embedded default).
rule p2_unlearn_cell:
    input:
        target=model_dir("target"),
        tofu=f"{RESULTS}/data/tofu",
        data=f"{RESULTS}/p2/data",
        parent=mlflow_parent(),
    output:
        f"{RESULTS}/p2/cells/{{p2_method}}_{{p2_forget}}_seed{{p2_seed}}.json",
    log:
        f"{RESULTS}/logs/p2/cells/{{p2_method}}_{{p2_forget}}_seed{{p2_seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/p2/cells/{{p2_method}}_{{p2_forget}}_seed{{p2_seed}}.tsv"
    wildcard_constraints:
        p2_method="|".join(config["p2"]["methods"]),
        p2_forget="|".join(config["p2"]["forget_splits"]),
        p2_seed=r"\d+",
    params:
        unlearning=lambda wc: rule_params.p2_unlearning(config, wc.p2_method, wc.p2_forget),
        retain_split=lambda wc: RETAIN_OF_FORGET[wc.p2_forget],
        p2=rule_params.p2_evaluation(config),
        evaluation=rule_params.shared_evaluation(config),
        device=config["device"],
        resume=f"{RESULTS}/resume/p2",
    threads: training_job(p2_cell_optimization)["threads"]
    resources:
        **training_job(p2_cell_optimization)["resources"],
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p2_unlearn_cell.py"


rule p2_table2:
    input:
        cells=rule_params.p2_cells(config),
        reference=f"{RESULTS}/p2/reference.json",
    output:
        csv=report(f"{RESULTS}/p2/table2_sa.csv", caption="../workflow/report/p2_table2.rst", category="P2 SA/SU"),
        md=f"{RESULTS}/p2/table2_sa.md",
        tex=f"{RESULTS}/p2/table2_sa.tex",
        cells=f"{RESULTS}/p2/cells.csv",
    log:
        f"{RESULTS}/logs/p2/table2.log",
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p2_table2.py"


rule p2_table3:
    input:
        cells=rule_params.p2_cells(config),
        reference=f"{RESULTS}/p2/reference.json",
    output:
        csv=report(f"{RESULTS}/p2/table3_su.csv", caption="../workflow/report/p2_table3.rst", category="P2 SA/SU"),
        md=f"{RESULTS}/p2/table3_su.md",
        tex=f"{RESULTS}/p2/table3_su.tex",
    log:
        f"{RESULTS}/logs/p2/table3.log",
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p2_table3.py"


rule p2_figure1:
    input:
        cells=rule_params.p2_cells(config),
        reference=f"{RESULTS}/p2/reference.json",
    output:
        png=report(
            f"{RESULTS}/p2/figure1_utility_vs_step.png",
            caption="../workflow/report/p2_figure1.rst",
            category="P2 SA/SU",
        ),
        pdf=f"{RESULTS}/p2/figure1_utility_vs_step.pdf",
    log:
        f"{RESULTS}/logs/p2/figure1.log",
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p2_figure1.py"


rule p2_verdicts:
    input:
        cells=rule_params.p2_cells(config),
        reference=f"{RESULTS}/p2/reference.json",
        benchmarks=rule_params.p2_benchmark_files(config),
    output:
        page=report(f"{RESULTS}/p2/verdicts.md", caption="../workflow/report/p2_verdicts.rst", category="P2 SA/SU"),
        setting=f"{RESULTS}/p2/setting.csv",
    log:
        f"{RESULTS}/logs/p2/verdicts.log",
    params:
        claims=config["p2"]["claims"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p2_verdicts.py"

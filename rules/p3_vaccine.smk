# P3, Vaccine (arXiv 2402.01109): align the base model on the safety sub-world (none / SFT / Vaccine / random
# perturbation), attack it with a harmful fine-tuning at each ratio p, score HS, FA and harmful embedding drift.
# Methods ewc and kl align with SFT and defend the user's fine-tuning instead (experiments/p3_vaccine.py METHODS).


# One job per method × seed aligns once and runs every (n, p) cell in-process (imports cost as much as a cell).
rule p3_align_attack:
    input:
        unpack(p3_job_inputs),
    output:
        f"{RESULTS}/p3/runs/{{p3_method}}/seed{{p3_seed}}.json",
    log:
        f"{RESULTS}/logs/p3/runs/{{p3_method}}/seed{{p3_seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/p3/runs/{{p3_method}}/seed{{p3_seed}}.tsv"
    wildcard_constraints:
        p3_method="|".join(config["p3"]["methods"]),
        p3_seed=r"\d+",
    params:
        cfg=lambda wc: rule_params.p3_job(config, wc.p3_method),
        alignments=lambda wc: rule_params.p3_table1_alignment(config, wc.p3_method),
        cells=rule_params.p3_table1_cells(config),
        resume=f"{RESULTS}/resume/p3",
    threads: threads_of("train")
    resources:
        **resources_of("train"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p3_align_attack.py"


# Table 6: Vaccine at the other ρ of the sweep, at p = rho_sweep_ratio, one job per seed.
rule p3_rho_sweep:
    input:
        unpack(p3_job_inputs),
    output:
        f"{RESULTS}/p3/sweeps/seed{{p3_seed}}.json",
    log:
        f"{RESULTS}/logs/p3/sweeps/seed{{p3_seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/p3/sweeps/seed{{p3_seed}}.tsv"
    wildcard_constraints:
        p3_seed=r"\d+",
    params:
        cfg=rule_params.p3_job(config, None),
        alignments=rule_params.p3_sweep_alignments(config),
        cells=[{"n": config["p3"]["n_finetune"], "p": config["p3"]["rho_sweep_ratio"]}],
        resume=f"{RESULTS}/resume/p3",
    threads: threads_of("train")
    resources:
        **resources_of("train"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p3_align_attack.py"


rule p3_table1:
    input:
        runs=rule_params.p3_run_files(config),
    output:
        table=report(
            f"{RESULTS}/p3/table1_hs_fa.csv", caption="../workflow/report/p3_table1.rst", category="P3 Vaccine"
        ),
        table_md=f"{RESULTS}/p3/table1_hs_fa.md",
        table_tex=f"{RESULTS}/p3/table1_hs_fa.tex",
        cells=f"{RESULTS}/p3/cells.csv",
        metrics=f"{RESULTS}/metrics/p3.json",
    log:
        f"{RESULTS}/logs/p3/table1.log",
    params:
        p3=config["p3"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p3_table1.py"


rule p3_table6:
    input:
        runs=rule_params.p3_run_files(config),
    output:
        table=report(f"{RESULTS}/p3/table6_rho.csv", caption="../workflow/report/p3_table6.rst", category="P3 Vaccine"),
        table_md=f"{RESULTS}/p3/table6_rho.md",
        table_tex=f"{RESULTS}/p3/table6_rho.tex",
    log:
        f"{RESULTS}/logs/p3/table6.log",
    params:
        p3=config["p3"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p3_table6.py"


rule p3_figure_hs_vs_p:
    input:
        runs=rule_params.p3_run_files(config),
    output:
        png=report(
            f"{RESULTS}/p3/figure_hs_vs_p.png",
            caption="../workflow/report/p3_figure_hs_vs_p.rst",
            category="P3 Vaccine",
        ),
        pdf=f"{RESULTS}/p3/figure_hs_vs_p.pdf",
    log:
        f"{RESULTS}/logs/p3/figure_hs_vs_p.log",
    params:
        p3=config["p3"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p3_figure_hs_vs_p.py"


rule p3_figure_drift_vs_p:
    input:
        runs=rule_params.p3_run_files(config),
    output:
        png=report(
            f"{RESULTS}/p3/figure_drift_vs_p.png",
            caption="../workflow/report/p3_figure_drift_vs_p.rst",
            category="P3 Vaccine",
        ),
        pdf=f"{RESULTS}/p3/figure_drift_vs_p.pdf",
    log:
        f"{RESULTS}/logs/p3/figure_drift_vs_p.log",
    params:
        p3=config["p3"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p3_figure_drift_vs_p.py"


rule p3_verdicts:
    input:
        runs=rule_params.p3_run_files(config),
        benchmarks=rule_params.p3_benchmark_files(config),
    output:
        page=report(f"{RESULTS}/p3/verdicts.md", caption="../workflow/report/p3_verdicts.rst", category="P3 Vaccine"),
        setting=f"{RESULTS}/p3/setting.csv",
    log:
        f"{RESULTS}/logs/p3/verdicts.log",
    params:
        p3=config["p3"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p3_verdicts.py"


# Table 2 (HS and FA vs n at p = n_sweep_ratio), built when p3.n_sweep is not empty.
rule p3_table2:
    input:
        runs=rule_params.p3_run_files(config),
    output:
        table=report(f"{RESULTS}/p3/table2_n.csv", caption="../workflow/report/p3_table2.rst", category="P3 Vaccine"),
        table_md=f"{RESULTS}/p3/table2_n.md",
        table_tex=f"{RESULTS}/p3/table2_n.tex",
    log:
        f"{RESULTS}/logs/p3/table2.log",
    params:
        p3=config["p3"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/p3_table2.py"

# Tables (CSV, Markdown, LaTeX) and seaborn figures, each from one rule, collected by `snakemake --report`.


rule table_models:
    input:
        metrics=expand(f"{RESULTS}/eval/{{model}}/metrics.json", model=EVALUATED_MODELS),
    output:
        csv=report(f"{RESULTS}/tables/models.csv", caption="../workflow/report/models_table.rst", category="Models"),
        md=f"{RESULTS}/tables/models.md",
        metrics=f"{RESULTS}/metrics/models.json",
        tex=f"{RESULTS}/tables/models.tex",
        figure=report(
            f"{RESULTS}/figures/models.png", caption="../workflow/report/models_figure.rst", category="Models"
        ),
        figure_pdf=f"{RESULTS}/figures/models.pdf",
    log:
        f"{RESULTS}/logs/table_models.log",
    params:
        models=EVALUATED_MODELS,
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/table_models.py"


# The paper's reported numbers (config `reference`) next to ours, when the config carries any.
rule paper_vs_ours:
    input:
        results=rule_params.reference_inputs(config),
        # The paper's numbers hold in the paper's setting: the table opens with whether ours reaches it.
        setting=rule_params.setting_inputs(config),
        # The ledger's statuses are printed next to the numbers: editing it redraws the table.
        ledger=os.path.join(workflow.basedir, "docs", "fidelity.md"),
    output:
        csv=report(
            f"{RESULTS}/paper_vs_ours.csv", caption="../workflow/report/paper_vs_ours.rst", category="Paper vs ours"
        ),
        md=f"{RESULTS}/paper_vs_ours.md",
        tex=f"{RESULTS}/paper_vs_ours.tex",
    log:
        f"{RESULTS}/logs/paper_vs_ours.log",
    params:
        reference=config["reference"],
    resources:
        **resources_of("light"),
    conda:
        "../envs/pipeline.yaml"
    script:
        "../workflow/scripts/paper_vs_ours.py"

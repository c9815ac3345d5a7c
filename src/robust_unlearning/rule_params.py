"""What the workflow's rules read from the validated config: each job's params (the config slice it depends on, so
that changing it, and nothing else, reruns the job), the choices its wildcards take, and the files a table reads.

Torch-free, so the Snakefile parses fast; rules/*.smk call these with `config` (tests/test_rule_params.py checks
them against hand-written slices). Paths are relative to the working directory, as the rules' are.
"""

import itertools

from .config import RETAIN_OF_FORGET, method_settings, rna_nu
from .experiments.p1_grid import CORPUS_KEYS, sweep_seeds, sweep_variants

RESULTS = "results"
# The tracks with an evaluation profile of their own, evaluation.<track>.
EVALUATION_PROFILES = ("p2", "p3", "p4")
P2_UTILITY_SETS = ["retain", "real_authors", "world_facts"]


def expand(pattern: str, **values: list) -> list[str]:
    """`pattern` formatted with every combination of `values`, the first keyword outermost (Snakemake's expand)."""
    names = list(values)
    return [
        pattern.format(**dict(zip(names, combination, strict=True)))
        for combination in itertools.product(*values.values())
    ]


def model_dir(name: str) -> str:
    return f"{RESULTS}/models/{name}"


def shared_evaluation(config: dict) -> dict:
    """The evaluation keys every track reads, without the tracks' own profiles (evaluation.p2/p3/p4): changing
    P3's sizes reruns P3's jobs only."""
    return {key: value for key, value in config["evaluation"].items() if key not in EVALUATION_PROFILES}


# ---- the generic unlearn rule (rules/unlearn.smk) ----


def unlearn_job(config: dict, method: str, defense: str) -> dict:
    """One `unlearn` job: its method's settings and its defense's ("none": no defense)."""
    unlearning = config["unlearning"]
    defenses = {} if defense == "none" else {defense: unlearning["defenses"][defense]}
    return {
        "max_length": unlearning["max_length"],
        "methods": {method: unlearning["methods"][method]},
        "defenses": defenses,
    }


# ---- P1 RNA (rules/p1_rna.smk) ----


def p1_base(config: dict) -> dict:
    """The base model's evaluation: the layers whose representation RMS it measures and the chunk length, not the
    methods or seeds (more seeds do not re-evaluate the base model)."""
    p1 = config["p1"]
    return {
        "device": config["device"],
        "evaluation": shared_evaluation(config),
        "p1": {key: p1[key] for key in ("layer", "layer_sweep", "max_length")},
    }


def p1_job(config: dict, method: str) -> dict:
    """One method × seed job: ℓ, its own ν, chunk length, the corpus streams' keys and its own method's settings as P1
    runs it, not the sweeps'."""
    p1 = config["p1"]
    # Only the method's own ν (p1.rna.nu may map every method to one), so another method's ν reruns nothing here.
    own = {key: p1[key] for key in ("layer", "rna", "max_length", *CORPUS_KEYS)} | {
        "rna": {**p1["rna"], "nu": rna_nu(p1, method)},
        method: method_settings(config, "p1", method),
    }
    return {"device": config["device"], "evaluation": shared_evaluation(config), "p1": own}


def p1_sweep(config: dict, method: str) -> dict:
    """One method's sweep job (one seed): the job's slice and both sweeps."""
    p1, job = config["p1"], p1_job(config, method)
    return {**job, "p1": {**job["p1"], **{key: p1[key] for key in ("nu_sweep", "layer_sweep")}}}


def p1_swept_methods(config: dict) -> list[str]:
    """The methods whose sweep holds a variant of its own: a sweep whose points the main jobs all run (e.g. a ν
    sweep of 0 and the configured ν at the configured ℓ) gets no job, which would only pay the imports."""
    return [method for method in config["p1"]["methods"] if sweep_variants(p1_sweep(config, method)["p1"], method)]


def p1_run_files(config: dict) -> list[str]:
    """The rows the P1 report reads: the base model, every method × seed job, every swept method's sweep."""
    p1 = config["p1"]
    return [
        f"{RESULTS}/p1/runs/base.json",
        *expand(f"{RESULTS}/p1/runs/{{method}}/seed{{seed}}.json", method=p1["methods"], seed=p1["seeds"]),
        *expand(
            f"{RESULTS}/p1/sweeps/{{method}}/seed{{seed}}.json",
            method=p1_swept_methods(config),
            seed=sweep_seeds(p1),
        ),
    ]


def p1_benchmark_files(config: dict) -> list[str]:
    """The same jobs' Snakemake benchmarks, so the verdicts state the track's measured wall time."""
    p1 = config["p1"]
    return [
        f"{RESULTS}/benchmarks/p1/evaluate_base.tsv",
        *expand(f"{RESULTS}/benchmarks/p1/unlearn/{{method}}_seed{{seed}}.tsv", method=p1["methods"], seed=p1["seeds"]),
        *expand(
            f"{RESULTS}/benchmarks/p1/sweep/{{method}}_seed{{seed}}.tsv",
            method=p1_swept_methods(config),
            seed=sweep_seeds(p1),
        ),
    ]


# ---- P2 SA/SU (rules/p2_sasu.smk) ----


def p2_utility_sets(config: dict) -> dict[str, str]:
    """Benign-trigger set name → the TOFU split its questions come from."""
    return {name: config["p2"]["utility_retain_split"] if name == "retain" else name for name in P2_UTILITY_SETS}


def p2_oracles(config: dict) -> dict[str, str]:
    """Forget split → the retain-only oracle that gives its forget quality."""
    return {split: model_dir(RETAIN_OF_FORGET[split]) for split in config["p2"]["forget_splits"]}


def p2_evaluation(config: dict) -> dict:
    """The P2 keys an evaluation depends on (not the grid lists or the verdict thresholds), its profile as
    p2.evaluation."""
    return {"evaluation": config["evaluation"]["p2"], "utility_retain_split": config["p2"]["utility_retain_split"]}


def p2_unlearning(config: dict, method: str, forget_split: str) -> dict:
    """One cell: its own method's settings as P2 runs it on its forget split, and SU's η only."""
    unlearning = config["unlearning"]
    methods = {method: method_settings(config, "p2", method, forget_split)}
    return {
        "max_length": unlearning["max_length"],
        "methods": methods,
        "defenses": {"su": unlearning["defenses"]["su"]},
    }


def p2_cells(config: dict, kind: str = "p2/cells", suffix: str = "json") -> list[str]:
    """Every cell's result file, or with kind="benchmarks/p2/cells", suffix="tsv" its Snakemake benchmark."""
    p2 = config["p2"]
    return expand(
        f"{RESULTS}/{kind}/{{method}}_{{forget}}_seed{{seed}}.{suffix}",
        method=p2["methods"],
        forget=p2["forget_splits"],
        seed=p2["seeds"],
    )


def p2_benchmark_files(config: dict) -> list[str]:
    """The jobs' Snakemake benchmarks, so the verdicts state the track's measured job times."""
    return p2_cells(config, "benchmarks/p2/cells", "tsv") + [f"{RESULTS}/benchmarks/p2/reference.tsv"]


# ---- P3 Vaccine (rules/p3_vaccine.smk) ----


def p3_job(config: dict, method: str | None) -> dict:
    """An alignment-and-attack job besides its cells: not the seed list, the sweeps or the verdict thresholds. A
    fine-tuning defense's settings (p3.ewc, p3.kl, p3.vlguard) belong to its own method's jobs only (`method`; None
    for the sweep job): tuning λ reruns those."""
    p3 = {**config["p3"], "evaluation": config["evaluation"]["p3"]}
    keys = ["judge", "judge_model", "judge_threshold", "alignment", "user_finetune", "evaluation"]
    keys += [name for name in ("ewc", "kl", "vlguard") if method == name]
    return {"device": config["device"], "p3": {key: p3[key] for key in keys}}


def p3_table1_cells(config: dict) -> list[dict]:
    """The (n, p) cells of a Table 1 job: n_finetune at every harmful ratio, then Table 2's sizes at n_sweep_ratio."""
    p3 = config["p3"]
    cells = [{"n": p3["n_finetune"], "p": p} for p in p3["harmful_ratios"]]
    sweep = [{"n": n, "p": p3["n_sweep_ratio"]} for n in p3["n_sweep"]]
    return cells + [cell for cell in sweep if cell not in cells]


def p3_table1_alignment(config: dict, method: str) -> list[dict]:
    rho = config["p3"]["rho"] if method in ("vaccine", "random") else 0.0
    return [{"method": method, "rho": rho}]


def p3_sweep_alignments(config: dict) -> list[dict]:
    """Vaccine at every ρ of Table 6, less the ρ whose p = rho_sweep_ratio cell Table 1's vaccine jobs already run."""
    p3 = config["p3"]
    covered = "vaccine" in p3["methods"] and p3["rho_sweep_ratio"] in p3["harmful_ratios"]
    return [{"method": "vaccine", "rho": rho} for rho in p3["rho_sweep"] if not (covered and rho == p3["rho"])]


def p3_jobs(config: dict) -> list[str]:
    """Every P3 job's output name below p3/ (and below benchmarks/p3/): each Table 1 method × seed, each sweep seed."""
    p3 = config["p3"]
    jobs = expand("runs/{method}/seed{seed}", method=p3["methods"], seed=p3["seeds"])
    return jobs + (expand("sweeps/seed{seed}", seed=p3["seeds"]) if p3_sweep_alignments(config) else [])


def p3_run_files(config: dict) -> list[str]:
    return [f"{RESULTS}/p3/{job}.json" for job in p3_jobs(config)]


def p3_benchmark_files(config: dict) -> list[str]:
    """The same jobs' Snakemake benchmarks, so the verdicts state the track's measured wall time."""
    return [f"{RESULTS}/benchmarks/p3/{job}.tsv" for job in p3_jobs(config)]


# ---- P4 effective evaluation (rules/p4_evaluation.smk) ----


def p4_variants(config: dict) -> list[str]:
    """Calibrated-table rows: every method, plus "<method>-ts" / "<method>-sel" for the methods that get the ascent tricks."""
    p4 = config["p4"]
    return [*p4["methods"], *(f"{method}-{trick}" for method in p4["tricks"]["methods"] for trick in ("ts", "sel"))]


def _p4_variant_settings(config: dict, variant: str) -> tuple[dict, dict]:
    """(unlearning slice, p4 slice) of a variant's own settings: its method's as P4 runs it, its trick's."""
    method, _, trick = variant.partition("-")
    unlearning, p4, own = config["unlearning"], config["p4"], {}
    methods = {method: method_settings(config, "p4", method)}
    if trick:
        own["tricks"] = {key: p4["tricks"][key] for key in ("temperature", "token_fraction")}
    return {"max_length": unlearning["max_length"], "methods": methods, "defenses": {}}, own


def p4_population(config: dict, method: str) -> dict:
    """One population job (method × seed): its method's settings, the grid, the attacks, the evaluation sizes."""
    unlearning, own = _p4_variant_settings(config, method)
    p4 = config["p4"]
    sizes = {
        "population": p4["population"],
        "attacks": p4["attacks"],
        "metrics": p4["metrics"],
        "evaluation": config["evaluation"]["p4"],
    }
    return {"unlearning": unlearning, "p4": {**own, **sizes}}


def p4_calibration(config: dict, variant: str) -> dict:
    """One calibration job (method variant): not the population grid, the attack settings or the verdicts."""
    unlearning, own = _p4_variant_settings(config, variant)
    p4 = config["p4"]
    shared = {
        "forget_splits": p4["forget_splits"],
        "seeds": p4["seeds"],
        "metrics": p4["metrics"],
        "evaluation": config["evaluation"]["p4"],
        "calibration": p4["calibration"],
    }
    return {
        "unlearning": unlearning,
        "p4": {**own, **shared, "attacks": {"heldout_fraction": p4["attacks"]["heldout_fraction"]}},
    }


def p4_population_files(config: dict) -> list[str]:
    p4 = config["p4"]
    return expand(
        f"{RESULTS}/p4/population/{{method}}_seed{{seed}}.json", method=p4["methods"], seed=p4["population"]["seeds"]
    )


def p4_calibration_files(config: dict) -> list[str]:
    return expand(f"{RESULTS}/p4/calibration/{{variant}}.json", variant=p4_variants(config))


def p4_benchmark_files(config: dict) -> list[str]:
    """The P4 jobs' Snakemake benchmarks, so the verdicts state the track's measured job times and load."""
    jobs = p4_population_files(config) + p4_calibration_files(config)
    return [path.replace(f"{RESULTS}/p4/", f"{RESULTS}/benchmarks/p4/").replace(".json", ".tsv") for path in jobs]


# ---- targets ----


def track_targets(config: dict, track: str) -> list[str]:
    """The paper tables and figures of one track; `config["tracks"]` selects which tracks `rule all` builds."""
    targets = {
        "models": [f"{RESULTS}/tables/models.csv", f"{RESULTS}/figures/models.png"],
        "p2_sasu": [
            f"{RESULTS}/p2/{name}"
            for name in ("table2_sa.csv", "table3_su.csv", "figure1_utility_vs_step.png", "verdicts.md")
        ],
        "p3_vaccine": [
            f"{RESULTS}/p3/{name}"
            for name in (
                "table1_hs_fa.csv",
                "table6_rho.csv",
                "figure_hs_vs_p.png",
                "figure_drift_vs_p.png",
                "verdicts.md",
            )
        ]
        + ([f"{RESULTS}/p3/table2_n.csv"] if config["p3"]["n_sweep"] else []),
        "p1_rna": [
            f"{RESULTS}/p1/{name}"
            for name in ("table_main.csv", "figure_nu_sweep.png", "figure_layer_sweep.png", "verdicts.md")
        ],
        "p4_evaluation": [
            f"{RESULTS}/p4/{name}"
            for name in (
                "table_pcc.csv",
                "figure2_metric_robustness.png",
                "table_calibrated.csv",
                "figure3_es_vs_alpha.png",
                "verdicts.md",
            )
        ],
    }
    return targets[track]


def reference_inputs(config: dict) -> list[str]:
    """The tidy results files the config's reference values are compared with (rule paper_vs_ours)."""
    return sorted({f"{RESULTS}/{value['results']}" for value in config["reference"]["values"]})


def setting_inputs(config: dict) -> list[str]:
    """The setting of each track the reference values compare with (its verdicts rule writes pN/setting.csv)."""
    return sorted(
        {f"{RESULTS}/{value['results'].split('/')[0]}/setting.csv" for value in config["reference"]["values"]}
    )


def final_targets(config: dict) -> list[str]:
    tables = [path for track in config["tracks"] for path in track_targets(config, track)]
    return tables + ([f"{RESULTS}/paper_vs_ours.csv"] if config["reference"]["values"] else [])

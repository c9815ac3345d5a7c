"""The config slices and file lists the rules read (rule_params.py), against hand-written expectations."""

import subprocess
import sys

from robust_unlearning import rule_params

NPO = {"beta": 0.1, "optimization": {"learning_rate": 1e-5}}
GA = {"optimization": {"learning_rate": 2e-5}}
RMU = {"layer": -2, "alpha": 100.0, "optimization": {"learning_rate": 1e-2, "epochs": 5}}
CONFIG = {
    "device": "cpu",
    "evaluation": {
        "batch_size": 8,
        "p2": {"max_examples": 4},
        "p3": {"max_new_tokens": 8},
        "p4": {"forget_examples": 4},
    },
    "tracks": ["p2_sasu", "p4_evaluation"],
    "reference": {
        "values": [{"results": "p2/cells.csv"}, {"results": "p4/calibration.csv"}, {"results": "p2/cells.csv"}]
    },
    "unlearning": {
        "max_length": 64,
        "methods": {"npo": NPO, "ga": GA, "rmu": RMU},
        "defenses": {"su": {"eta": 2.0}, "rna": {"nu": 0.01}},
    },
    "p1": {
        "layer": 7,
        "rna": {"nu": 0.01},
        "max_length": 512,
        "forget_topics": "alternate",
        "corpus_order": "file",
        "document_bos": True,
        "overrides": {"npo": {"beta": 0.5}},
        "methods": ["rmu", "npo"],
        "seeds": [0, 1],
        "n_sweep_seeds": 2,
        "nu_sweep": [0.0, 0.1],
        "layer_sweep": [5, 7],
        "verdict": {"confidence": 0.9},
    },
    "p2": {
        "methods": ["npo"],
        "overrides": None,
        "forget_splits": ["forget01", "forget10"],
        "seeds": [0, 1],
        "utility_retain_split": "retain_perturbed",
        "stealthy_attack": {"p": 0.33},
    },
    "p3": {
        "methods": ["sft", "vaccine", "ewc"],
        "seeds": [0],
        "rho": 2.0,
        "rho_sweep": [1.0, 2.0, 5.0],
        "rho_sweep_ratio": 0.1,
        "harmful_ratios": [0.0, 0.1],
        "n_finetune": 1000,
        "n_sweep": [500, 1000],
        "n_sweep_ratio": 0.1,
        "judge": "hub",
        "judge_model": "judge",
        "judge_threshold": 0.5,
        "alignment": {"epochs": 1},
        "user_finetune": {"epochs": 2},
        "ewc": {"lambda": 1e9},
        "kl": {"lambda": 0.1},
        "vlguard": {"guide_rows": 100},
    },
    "p4": {
        "methods": ["ga", "npo", "rmu"],
        "metrics": ["extraction_strength"],
        "tricks": {"methods": ["ga"], "temperature": 2.0, "token_fraction": 0.8},
        "overrides": {"rmu": {"layer": 7, "optimization": {"learning_rate": 5e-5}}},
        "forget_splits": ["forget01"],
        "seeds": [0, 1],
        "population": {"seeds": [0], "epochs": [1, 3]},
        "attacks": {"heldout_fraction": 0.1, "names": ["relearn"]},
        "calibration": {"tau": 0.9},
        "verdict": {"min_pcc": 0.5},
    },
}


def test_rule_params_and_the_p1_grid_import_no_torch():
    """The Snakefile imports rule_params on every invocation, a dry run included."""
    code = "import sys, robust_unlearning.rule_params; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout


def test_expand_takes_every_combination_first_keyword_outermost():
    assert rule_params.expand("{a}-{b}", a=[1, 2], b=["x", "y"]) == ["1-x", "1-y", "2-x", "2-y"]


def test_a_job_depends_on_its_own_method_and_defense_only():
    assert rule_params.unlearn_job(CONFIG, "npo", "none") == {"max_length": 64, "methods": {"npo": NPO}, "defenses": {}}
    assert rule_params.unlearn_job(CONFIG, "ga", "rna")["defenses"] == {"rna": {"nu": 0.01}}
    assert rule_params.p2_unlearning(CONFIG, "npo", "forget05") == {
        "max_length": 64,
        "methods": {"npo": NPO},
        "defenses": {"su": {"eta": 2.0}},
    }
    assert rule_params.p2_evaluation(CONFIG) == {
        "evaluation": {"max_examples": 4},
        "utility_retain_split": "retain_perturbed",
    }


def test_p1_job_and_sweep_slices():
    # The shared evaluation keys only: the tracks' profiles (evaluation.p2/p3/p4) are not P1's to rerun on.
    job = {
        "device": "cpu",
        "evaluation": {"batch_size": 8},
        "p1": {
            "layer": 7,
            "rna": {"nu": 0.01},
            "max_length": 512,
            "forget_topics": "alternate",
            "corpus_order": "file",
            "document_bos": True,
            "npo": {"beta": 0.5, "optimization": {"learning_rate": 1e-5}},
        },
    }
    assert rule_params.p1_job(CONFIG, "npo") == job
    base = {
        "device": "cpu",
        "evaluation": {"batch_size": 8},
        "p1": {"layer": 7, "layer_sweep": [5, 7], "max_length": 512},
    }
    assert rule_params.p1_base(CONFIG) == base
    sweep = rule_params.p1_sweep(CONFIG, "npo")
    assert sweep["p1"] == {**job["p1"], "nu_sweep": [0.0, 0.1], "layer_sweep": [5, 7]}
    assert rule_params.p1_run_files(CONFIG) == [
        "results/p1/runs/base.json",
        "results/p1/runs/rmu/seed0.json",
        "results/p1/runs/rmu/seed1.json",
        "results/p1/runs/npo/seed0.json",
        "results/p1/runs/npo/seed1.json",
        "results/p1/sweeps/rmu/seed0.json",
        "results/p1/sweeps/rmu/seed1.json",
        "results/p1/sweeps/npo/seed0.json",
        "results/p1/sweeps/npo/seed1.json",
    ]
    # Fewer seeds than n_sweep_seeds: the sweeps run at every seed there is.
    one_seed = {**CONFIG, "p1": {**CONFIG["p1"], "seeds": [3]}}
    assert [f for f in rule_params.p1_run_files(one_seed) if "sweeps" in f] == [
        "results/p1/sweeps/rmu/seed3.json",
        "results/p1/sweeps/npo/seed3.json",
    ]
    # Sweep points that are all the main jobs' own (ν 0 and ν = 0.01 at ℓ = 7, as the smoke overlay sets them) get
    # no sweep job: the report reads, and the verdicts time, the base and the method × seed jobs only.
    coinciding = {**CONFIG, "p1": {**CONFIG["p1"], "nu_sweep": [0.0, 0.01], "layer_sweep": [7]}}
    assert rule_params.p1_run_files(coinciding) == [
        "results/p1/runs/base.json",
        "results/p1/runs/rmu/seed0.json",
        "results/p1/runs/rmu/seed1.json",
        "results/p1/runs/npo/seed0.json",
        "results/p1/runs/npo/seed1.json",
    ]
    assert rule_params.p1_benchmark_files(coinciding) == [
        "results/benchmarks/p1/evaluate_base.tsv",
        "results/benchmarks/p1/unlearn/rmu_seed0.tsv",
        "results/benchmarks/p1/unlearn/rmu_seed1.tsv",
        "results/benchmarks/p1/unlearn/npo_seed0.tsv",
        "results/benchmarks/p1/unlearn/npo_seed1.tsv",
    ]


def test_p1_job_takes_its_own_nu_of_a_per_method_mapping():
    per_method = {**CONFIG, "p1": {**CONFIG["p1"], "rna": {"nu": {"rmu": 0.01, "npo": 0.05}, "nu_scale": "absolute"}}}
    assert rule_params.p1_job(per_method, "npo")["p1"]["rna"] == {"nu": 0.05, "nu_scale": "absolute"}
    assert rule_params.p1_sweep(per_method, "rmu")["p1"]["rna"] == {"nu": 0.01, "nu_scale": "absolute"}
    # A sweep of ν {0, 0.01} at ℓ = 7 alone: rmu's main jobs run both points, npo's (ν 0.05) not 0.01.
    coinciding = {**per_method, "p1": {**per_method["p1"], "nu_sweep": [0.0, 0.01], "layer_sweep": [7]}}
    assert rule_params.p1_swept_methods(coinciding) == ["npo"]


def test_p3_defense_settings_belong_to_their_method_and_cells_are_not_repeated():
    assert "ewc" in rule_params.p3_job(CONFIG, "ewc")["p3"] and "kl" not in rule_params.p3_job(CONFIG, "ewc")["p3"]
    assert set(rule_params.p3_job(CONFIG, None)["p3"]) == {
        "judge",
        "judge_model",
        "judge_threshold",
        "alignment",
        "user_finetune",
        "evaluation",
    }
    assert rule_params.p3_table1_cells(CONFIG) == [{"n": 1000, "p": 0.0}, {"n": 1000, "p": 0.1}, {"n": 500, "p": 0.1}]
    assert rule_params.p3_table1_alignment(CONFIG, "vaccine") == [{"method": "vaccine", "rho": 2.0}]
    assert rule_params.p3_table1_alignment(CONFIG, "sft") == [{"method": "sft", "rho": 0.0}]
    # ρ = 2 at p = 0.1 is a Table 1 vaccine cell already.
    assert rule_params.p3_sweep_alignments(CONFIG) == [
        {"method": "vaccine", "rho": 1.0},
        {"method": "vaccine", "rho": 5.0},
    ]
    assert rule_params.p3_jobs(CONFIG) == ["runs/sft/seed0", "runs/vaccine/seed0", "runs/ewc/seed0", "sweeps/seed0"]


def test_p4_variants_and_their_slices():
    assert rule_params.p4_variants(CONFIG) == ["ga", "npo", "rmu", "ga-ts", "ga-sel"]
    calibration = rule_params.p4_calibration(CONFIG, "ga-ts")
    assert calibration["unlearning"] == {"max_length": 64, "methods": {"ga": GA}, "defenses": {}}
    assert calibration["p4"] == {
        "tricks": {"temperature": 2.0, "token_fraction": 0.8},
        "forget_splits": ["forget01"],
        "seeds": [0, 1],
        "metrics": ["extraction_strength"],
        "evaluation": {"forget_examples": 4},
        "calibration": {"tau": 0.9},
        "attacks": {"heldout_fraction": 0.1},
    }
    population = rule_params.p4_population(CONFIG, "rmu")
    # P4's override merged key by key onto RMU's one home: its ℓ and learning rate, RMU's α and epochs.
    assert population["unlearning"]["methods"] == {
        "rmu": {"layer": 7, "alpha": 100.0, "optimization": {"learning_rate": 5e-5, "epochs": 5}}
    }
    assert population["p4"] == {
        "population": {"seeds": [0], "epochs": [1, 3]},
        "attacks": {"heldout_fraction": 0.1, "names": ["relearn"]},
        "metrics": ["extraction_strength"],
        "evaluation": {"forget_examples": 4},
    }
    assert rule_params.p4_benchmark_files(CONFIG)[:1] == ["results/benchmarks/p4/population/ga_seed0.tsv"]
    assert rule_params.p4_benchmark_files(CONFIG)[-1] == "results/benchmarks/p4/calibration/ga-sel.tsv"


def test_targets_and_reference_inputs():
    assert rule_params.p2_cells(CONFIG) == [
        "results/p2/cells/npo_forget01_seed0.json",
        "results/p2/cells/npo_forget01_seed1.json",
        "results/p2/cells/npo_forget10_seed0.json",
        "results/p2/cells/npo_forget10_seed1.json",
    ]
    assert rule_params.p2_oracles(CONFIG) == {
        "forget01": "results/models/retain99",
        "forget10": "results/models/retain90",
    }
    assert rule_params.reference_inputs(CONFIG) == ["results/p2/cells.csv", "results/p4/calibration.csv"]
    targets = rule_params.final_targets(CONFIG)
    assert (
        targets[0] == "results/p2/table2_sa.csv"
        and targets[-1] == "results/paper_vs_ours.csv"
        and "results/p4/verdicts.md" in targets
    )

"""Why extraction strength is not the most robust metric on the embedded default (P4, claim 1): a probe of the
population the P4 jobs already made (results/p4/population/*.json; no model is trained or loaded).

A metric is "robust" in the paper when its values before and after an attack keep a high Pearson correlation over
the unlearned models. Pearson is lowered both by reordering the models (what robustness is about) and by a
nonlinear but order-preserving response, e.g. an attack that pushes many models onto a floor of 0. For each
metric, attack and set this prints Pearson and Spearman r, the mean shift, and the share of models the attack
leaves at the metric's floor (≤ 0.02): a Pearson far below Spearman with many models on the floor points to the
floor, not to reordering. The third correlation leaves out the models the unlearning itself left at the floor
(collapsed), which sit far from the rest and can carry a Pearson r alone. The last table averages each over the
attacks × sets (the report's mean PCC counts an undefined one as 0; none is undefined here).

    python benchmarks/probe_p4_robustness.py --results results
"""

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from robust_unlearning.eval.specs import METRIC_SPECS

FLOOR = 0.02


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    models = [
        model
        for path in sorted((args.results / "p4" / "population").glob("*.json"))
        for model in json.loads(path.read_text())["models"]
    ]
    attacks = sorted(models[0]["after"])
    print(f"{len(models)} unlearned models\n")
    print(
        "| metric | attack | set | Pearson | Spearman | Pearson without floored models | mean shift | at floor before | at floor after |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for metric in models[0]["before"]["forget"]:
        for attack in attacks:
            for split in ("forget", "retain"):
                before = np.array([m["before"][split][metric] for m in models])
                after = np.array([m["after"][attack][split][metric] for m in models])
                constant = np.ptp(before) == 0 or np.ptp(after) == 0
                pearson = float("nan") if constant else pearsonr(before, after).statistic
                spearman = float("nan") if constant else spearmanr(before, after).statistic
                # Models the unlearning left at the floor (collapsed) sit far from the rest: one such point can carry
                # a Pearson r on its own.
                kept = before > FLOOR
                trimmed = (
                    pearsonr(before[kept], after[kept]).statistic
                    if np.ptp(before[kept]) and np.ptp(after[kept])
                    else float("nan")
                )
                summary.setdefault(metric, []).append((pearson, spearman, trimmed))
                print(
                    f"| {METRIC_SPECS[metric].label} | {attack} | {split} | {pearson:.2f} | {spearman:.2f} | {trimmed:.2f} | {np.mean(after - before):+.3f} | "
                    f"{np.mean(before <= FLOOR):.2f} | {np.mean(after <= FLOOR):.2f} |"
                )

    print("\n| metric | mean Pearson | mean Spearman | mean Pearson without floored models |")
    print("|---|---|---|---|")
    for metric, values in summary.items():
        pearson, spearman, trimmed = (np.nanmean(column) for column in zip(*values, strict=True))
        print(f"| {METRIC_SPECS[metric].label} | {pearson:.3f} | {spearman:.3f} | {trimmed:.3f} |")


if __name__ == "__main__":
    main()

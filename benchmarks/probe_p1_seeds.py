"""How P1's claim intervals depend on the number of seeds: a probe of the runs a finished `make reproduce` made
(results/p1/runs; no model is trained or loaded).

For every subset of k of the main seeds (k from 2 to all of them) it recomputes the verdicts page's statistics
(`report.p1.method_statistics`: claim 1's excess drop against the base model, claim 2's drop RNA removes, both
crossed over seeds and questions) on those seeds alone, and prints per method and k the mean and the widest
half-width of each 95 % interval over the subsets. What fewer seeds would cost in precision, measured, before
anyone trades seeds for run time.

    python benchmarks/probe_p1_seeds.py --results results --config config/config.yaml
"""

import argparse
import itertools
from pathlib import Path

import numpy as np

from robust_unlearning.config import load_config
from robust_unlearning.report.p1 import Results, method_statistics, read_runs_frame


def half_width(interval) -> float:
    _, low, high = interval
    return (high - low) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--config", default="config/config.yaml")
    args = parser.parse_args()
    p1 = load_config(args.config)["p1"]
    runs_dir = args.results / "p1" / "runs"
    frame = read_runs_frame(sorted(runs_dir.glob("*/seed*.json")) + [runs_dir / "base.json"])
    seeds = sorted(p1["seeds"])
    print(f"main seeds {seeds}; half-widths of the 95 % intervals, mean over the subsets of k seeds (widest)\n")
    print("| method | seeds k | subsets | claim 1 (excess drop) | claim 2 (RNA shrinks it) |")
    print("|---|---|---|---|---|")
    widths = {}
    for k in range(2, len(seeds) + 1):
        for subset in itertools.combinations(seeds, k):
            statistics = method_statistics(Results(frame, {**p1, "seeds": list(subset)}))
            for row in statistics.itertuples():
                widths.setdefault((row.method, k), []).append((half_width(row.excess_drop), half_width(row.rna_shrink)))
    for method in p1["methods"]:
        for k in range(2, len(seeds) + 1):
            claim1, claim2 = np.array(widths[method, k]).T
            print(
                f"| {method} | {k} | {len(claim1)} | ±{claim1.mean():.3f} ({claim1.max():.3f}) "
                f"| ±{claim2.mean():.3f} ({claim2.max():.3f}) |"
            )


if __name__ == "__main__":
    main()

"""The cost paragraph every track's verdicts end with, from its jobs' Snakemake benchmark files."""

from pathlib import Path

import pandas as pd


def cost_paragraph(track: str, benchmark_files: list[str | Path]) -> str:
    """Summed wall and CPU seconds of the track's jobs, the longest job, their mean share of a core, and what
    that means on an idle 2-core machine (two single-thread jobs at once: about CPU time / 2)."""
    frame = pd.concat([pd.read_csv(path, sep="\t") for path in benchmark_files], ignore_index=True)
    wall, cpu = float(frame["s"].sum()), float(frame["cpu_time"].sum())
    return (
        f"The {len(frame)} {track} jobs took {wall:.0f} s of wall time and {cpu:.0f} s of CPU time in all (sums over "
        f"single-thread jobs; longest job {frame['s'].max():.0f} s; a job had {frame['mean_load'].mean():.0f} % of a core "
        f"on average, less when other work shares the machine). On an otherwise idle 2-core machine two jobs run at "
        f"once, so the track needs about CPU time / 2 ≈ {cpu / 2 / 60:.1f} min. Per-job times: results/benchmarks/."
    )

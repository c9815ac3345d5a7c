"""Paper tables as CSV (machine-readable), Markdown (README/report) and LaTeX (paper), written atomically."""

from pathlib import Path

import pandas as pd

from ..data.io import write_text


def write_table(table: pd.DataFrame, csv_path: str | Path, floatfmt: str = ".3f") -> dict[str, Path]:
    """Write `table` next to `csv_path` as .csv, .md and .tex; return the three paths."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    paths = {"csv": csv_path, "md": csv_path.with_suffix(".md"), "tex": csv_path.with_suffix(".tex")}
    write_text(paths["csv"], table.to_csv(index=False))
    write_text(paths["md"], table.to_markdown(index=False, floatfmt=floatfmt) + "\n")
    write_text(paths["tex"], table.to_latex(index=False, float_format=lambda x: format(x, floatfmt)))
    return paths


def mean_std(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Aggregate seeds: mean, std and count of `value` per group (std is 0 for a single seed)."""
    grouped = frame.groupby(by, sort=False)[value]
    return pd.DataFrame(
        {"mean": grouped.mean(), "std": grouped.std(ddof=1).fillna(0.0), "n": grouped.count()}
    ).reset_index()

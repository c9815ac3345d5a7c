"""Paper vs ours: each number a paper reports (config `reference.values`) next to the same quantity measured by
this run, read from a track's tidy results file (one row per run: p1/runs.csv, p2/cells.csv, p3/cells.csv,
p4/calibration.csv, …) and averaged over the rows that match the entry's `where` filter (seeds, usually), with
how ours was scored, how the paper and we trained (config `reference.setup`; ours from the setup columns the
tidy files take from each job's provenance) and the rows of the fidelity ledger (docs/fidelity.md) the comparison
depends on. The table opens with the setting of the tracks compared (the pN/setting.csv their verdicts rules write,
report/setting.py): each precondition's target, ours and whether it is met, since a number measured outside the
paper's setting compares with the paper's only as far as the setting holds."""

import re
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = [
    "paper table",
    "results",
    "where",
    "column",
    "paper",
    "ours",
    "ours std",
    "rows",
    "ours − paper",
    "scored by",
    "paper setup",
    "our setup",
    "ledger",
    "setting",
]
# Columns of a results file that say how its numbers were computed, and how the table names them.
SCORER_COLUMNS = {"mcq_format": "lm-eval {} MCQ", "prompt_format": "{} prompt", "judge": "{} judge"}


def _matches(column: pd.Series, wanted) -> pd.Series:
    if isinstance(wanted, (int, float)) and not isinstance(wanted, bool):
        return np.isclose(pd.to_numeric(column, errors="coerce"), wanted)
    return column.astype(str) == str(wanted)


def _where_text(where: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in where.items())


def _scorer(rows: pd.DataFrame) -> str:
    """How the matched rows were scored, from the results file's own provenance columns ("" where it has none)."""
    return ", ".join(
        template.format("/".join(sorted(rows[column].dropna().astype(str).unique())))
        for column, template in SCORER_COLUMNS.items()
        if column in rows.columns and rows[column].notna().any()
    )


def _our_setup(rows: pd.DataFrame) -> str:
    """How the matched rows' jobs trained and on what ("" where the results file has no setup columns)."""
    if not {"setup", "device"} <= set(rows.columns):
        return ""
    return " / ".join(sorted({f"{setup}, {device}" for setup, device in zip(rows["setup"], rows["device"])}))


def ledger_statuses(ledger: str | Path) -> dict[str, str]:
    """{row id: its "same?" cell} of every table row of the fidelity ledger (| id | choice | authors | ours | same? | …)."""
    statuses = {}
    for line in Path(ledger).read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and re.fullmatch(r"P[1-4]-\d{2}", cells[0]):
            statuses[cells[0]] = cells[4].strip("*")
    return statuses


def _ledger_text(row_ids: list[str], statuses: dict[str, str]) -> str:
    unknown = [row for row in row_ids if row not in statuses]
    if unknown:
        raise KeyError(f"config key 'reference.values': ledger rows {unknown} are not in docs/fidelity.md")
    return ", ".join(f"{row} ({statuses[row]})" for row in row_ids)


def _results_file(files: list[str | Path], name: str) -> Path:
    """The input file that is results/<name> (the rule's inputs, wherever the results directory lies)."""
    return next(Path(f) for f in files if Path(f).as_posix().endswith("/" + name))


def _setting_rows(setting_files: list[str | Path]) -> list[dict]:
    """One row per precondition of each setting file: ours is its seed mean, "setting" its target and whether met."""
    rows = []
    for path in setting_files:
        name = "/".join(Path(path).parts[-2:])
        for row in pd.read_csv(path).itertuples():
            rows.append(
                {
                    "paper table": f"setting: {row.setting}",
                    "results": name,
                    **dict.fromkeys(["where", "column", "scored by", "paper setup", "our setup", "ledger"], ""),
                    "ours": row.mean,
                    "rows": row.seeds,
                    "setting": f"target {row.target} ({row.source}): {'met' if row.met else 'not met'}",
                }
            )
    return rows


def paper_vs_ours(
    values: list[dict],
    results_files: list[str | Path],
    ledger: str | Path,
    paper_setup: str = "",
    setting_files: list[str | Path] = (),
) -> pd.DataFrame:
    """The setting rows of `setting_files`, then one row per reference value; `ours` is NaN (printed as blank) when
    no row of ours matches the filter."""
    statuses = ledger_statuses(ledger)
    rows = _setting_rows(setting_files)
    for value in values:
        frame = pd.read_csv(_results_file(results_files, value["results"]))
        where = value.get("where", {})
        missing = [key for key in [*where, value["column"]] if key not in frame.columns]
        if missing:
            raise KeyError(
                f"config key 'reference.values' ({value['table']}): {value['results']} has no column(s) {missing}; it has {list(frame.columns)}"
            )
        selected = frame
        for key, wanted in where.items():
            selected = selected[_matches(selected[key], wanted)]
        ours = pd.to_numeric(selected[value["column"]], errors="coerce").dropna()
        mean = ours.mean() if len(ours) else np.nan
        rows.append(
            {
                "paper table": value["table"],
                "results": value["results"],
                "where": _where_text(where),
                "column": value["column"],
                "paper": value["paper"],
                "ours": mean,
                "ours std": ours.std(ddof=1) if len(ours) > 1 else np.nan,
                "rows": len(ours),
                "ours − paper": mean - value["paper"],
                "scored by": _scorer(selected),
                "paper setup": paper_setup,
                "our setup": _our_setup(selected),
                "ledger": _ledger_text(value.get("ledger", []), statuses),
                "setting": "",
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)

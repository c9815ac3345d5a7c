"""P2 tables, figure and verdicts ("Keeping an Eye on LLM Unlearning", arXiv 2506.00359) from the cell JSONs.

Table 2: Unlearn ROUGE (↓), clean utility (↑), benign-trigger utility (↑), without vs with the Stealthy
Attack. Table 3: under SA, vanilla vs Scope-aware Unlearning. Figure 1: clean and trigger utility vs
unlearning step. Every cell is mean ± std over seeds; the verdicts (CLAIMS) compare paired seeds, per method × forget
split where that setting (SETTING: the method forgets and keeps utility on the clean forget set) is met.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import seaborn as sns

from ..data.io import write_text  # noqa: F401 — the scripts write text outputs through the report module
from ..eval.comparisons import forget_quality
from .claims import Claim, Row, Section, fill, judge_claims, verdicts_page
from .costs import cost_paragraph
from .setting import Precondition, judge_setting, setting_section
from .statistics import direction, mean_std_text, seeds_in_direction

METRICS = ["unlearn_rouge", "clean_utility", "trigger_utility", "forget_quality"]
LABELS = {
    "unlearn_rouge": "Unlearn ROUGE ↓",
    "clean_utility": "Clean utility ↑",
    "trigger_utility": "Trigger utility ↑",
    "forget_quality": "Forget quality ↑",
}
VARIANT_NAMES = {
    ("clean", "vanilla"): "clean forget set",
    ("clean", "su"): "clean + SU",
    ("sa", "vanilla"): "SA",
    ("sa", "su"): "SA + SU",
}


def load_cells(paths: list[str | Path]) -> list[dict]:
    return [json.loads(Path(path).read_text()) for path in paths]


def cells_frame(cells: list[dict], reference: dict) -> pd.DataFrame:
    """One row per method × forget split × seed × variant, forget quality against that split's oracle."""
    rows = []
    for cell in cells:
        oracle = reference["oracles"][cell["forget"]]["truth_ratios"]
        for variant in cell["variants"]:
            rows.append(
                {
                    "method": cell["method"],
                    "forget": cell["forget"],
                    "seed": cell["seed"],
                    "prompt_format": cell["prompt_format"],
                    "forget_set": variant["forget_set"],
                    "defense": variant["defense"],
                    "variant": VARIANT_NAMES[variant["forget_set"], variant["defense"]],
                    **variant["metrics"],
                    "forget_quality": forget_quality(variant["forget_truth_ratios"], oracle),
                    "steps": variant["steps"],
                    "train_seconds": variant["train_seconds"],
                    "n_wrapped": variant["n_wrapped"],
                }
            )
    return pd.DataFrame(rows)


def _reference_rows(reference: dict, forget_splits: list[str]) -> list[dict]:
    target = reference["target"]["utility"]
    rows = []
    for split in forget_splits:
        oracle = reference["oracles"][split]
        rows.append(
            {
                "Method": "target (before unlearning)",
                "Forget": split,
                "Forget set": "—",
                LABELS["unlearn_rouge"]: f"{reference['target'][split]['unlearn_rouge']:.3f}",
                LABELS["clean_utility"]: f"{target['clean_utility']:.3f}",
                LABELS["trigger_utility"]: f"{target['trigger_utility']:.3f}",
                LABELS["forget_quality"]: "—",
            }
        )
        rows.append(
            {
                "Method": f"retain-only oracle ({oracle['model']})",
                "Forget": split,
                "Forget set": "—",
                LABELS["unlearn_rouge"]: f"{oracle['unlearn_rouge']:.3f}",
                LABELS["clean_utility"]: "—",
                LABELS["trigger_utility"]: "—",
                LABELS["forget_quality"]: "1.000",
            }
        )
    return rows


def _summary(frame: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    return frame.groupby(by, sort=False)[metrics].agg(mean_std_text).reset_index()


def table2(frame: pd.DataFrame, reference: dict) -> pd.DataFrame:
    """Vanilla unlearning on the clean vs the SA-poisoned forget set."""
    vanilla = frame[frame.defense == "vanilla"].assign(
        forget_set=lambda f: f.forget_set.map({"clean": "without SA", "sa": "with SA"})
    )
    summary = _summary(vanilla, ["method", "forget", "forget_set"], METRICS)
    summary = summary.rename(columns={"method": "Method", "forget": "Forget", "forget_set": "Forget set", **LABELS})
    return pd.DataFrame(_reference_rows(reference, list(dict.fromkeys(frame.forget))) + summary.to_dict("records"))


def table3(frame: pd.DataFrame) -> pd.DataFrame:
    """Under SA: the method alone vs the method with Scope-aware Unlearning."""
    attacked = frame[frame.forget_set == "sa"].assign(
        defense=lambda f: f.defense.map({"vanilla": "vanilla", "su": "SU"})
    )
    summary = _summary(attacked, ["method", "forget", "defense"], ["trigger_utility", "unlearn_rouge", "clean_utility"])
    return summary.rename(columns={"method": "Method", "forget": "Forget", "defense": "Unlearning", **LABELS})


def curves_frame(cells: list[dict], reference: dict) -> pd.DataFrame:
    """Long frame of the Figure 1 curves; step 0 is the target model (the same for every variant)."""
    start = reference["target"]["curve_utility"]
    rows = []
    for cell in cells:
        for variant in cell["variants"]:
            name = VARIANT_NAMES[variant["forget_set"], variant["defense"]]
            for point in [{"step": 0, **start}, *variant["curve"]]:
                for kind in ("clean", "trigger"):
                    rows.append(
                        {
                            "method": cell["method"],
                            "forget": cell["forget"],
                            "seed": cell["seed"],
                            "variant": name,
                            "step": point["step"],
                            "utility": f"{kind} utility",
                            "ROUGE-L": point[f"{kind}_utility"],
                        }
                    )
    return pd.DataFrame(rows)


def figure1(curves: pd.DataFrame):
    """Clean and trigger utility vs step per method (columns) and forget split (rows), mean ± 95 % CI over seeds."""
    shown = curves[curves.variant.isin(["clean forget set", "SA", "SA + SU"])]
    grid = sns.relplot(
        data=shown,
        x="step",
        y="ROUGE-L",
        hue="variant",
        style="utility",
        col="method",
        row="forget",
        kind="line",
        errorbar=("ci", 95),
        n_boot=200,
        seed=0,
        height=2.6,
        aspect=1.2,
        facet_kws={"sharex": False},
        hue_order=["clean forget set", "SA", "SA + SU"],
        style_order=["clean utility", "trigger utility"],
    )
    grid.set_titles("{col_name} · {row_name}")
    grid.set_axis_labels("unlearning step", "ROUGE-L recall")
    # The figure-level legend overlaps the panels once save_figure applies tight_layout; an axes legend does not.
    handles, labels = grid.axes.flat[0].get_legend_handles_labels()
    grid.legend.remove()
    grid.axes.flat[0].legend(handles, labels, fontsize="x-small", framealpha=0.8)
    return grid.figure


# --- claims ------------------------------------------------------------------------------------------------------

TITLE = "P2 verdicts: Stealthy Attack and Scope-aware Unlearning (arXiv 2506.00359)"
PREAMBLE = (
    "Generated from {seeds} seeds × {methods} methods × {splits} forget splits × 4 variants = {runs} unlearning runs "
    "(ROUGE-L recall of greedy answers; paired by seed). A setting reproduces a claim when the seed-mean moves in the "
    "claimed direction and every seed agrees."
)
CLEAN, SA, SA_SU = ("clean", "vanilla"), ("sa", "vanilla"), ("sa", "su")
# The page reads its claims by seed direction; only the setting's intervals need a level.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Results:
    """What P2's claims are measured on: every unlearning run (cells_frame) and the reference models' scores."""

    frame: pd.DataFrame
    reference: dict


def _paired(frame: pd.DataFrame, metric: str, before: tuple[str, str], after: tuple[str, str]) -> pd.DataFrame:
    """Per method × forget split: metric of variant `before` and `after` per seed (paired by seed)."""
    keys = ["method", "forget", "seed"]
    a = frame[(frame.forget_set == before[0]) & (frame.defense == before[1])].set_index(keys)[metric]
    b = frame[(frame.forget_set == after[0]) & (frame.defense == after[1])].set_index(keys)[metric]
    return pd.DataFrame({"before": a, "after": b}).reset_index()


def _with_rouge_references(rows: pd.DataFrame, reference: dict) -> pd.DataFrame:
    """`rows` with the unlearn ROUGE of the target (before unlearning) and of the retain-only oracle of their split."""
    return rows.assign(
        target_rouge=[reference["target"][split]["unlearn_rouge"] for split in rows.forget],
        oracle_rouge=[reference["oracles"][split]["unlearn_rouge"] for split in rows.forget],
    )


def _closer_to_oracle(rouge: float, row: Row) -> bool:
    """Forgetting, here: an unlearn ROUGE closer to the retain-only oracle's than to the target's."""
    return rouge <= (row["target_rouge"] + row["oracle_rouge"]) / 2


def _seed_changes(metric: str, before: tuple[str, str], after: tuple[str, str], sign: int = -1):
    """The measure of `metric` from variant `before` to `after`: per method × forget split, the seed means of both,
    the change of each seed and how many seeds change in `sign`'s direction."""

    def measure(results: Results) -> pd.DataFrame:
        pairs = _paired(results.frame, metric, before, after)
        rows = []
        for (method, split), group in pairs.groupby(["method", "forget"], sort=False):
            changes = group.after - group.before
            rows.append(
                {
                    "method": method,
                    "forget": split,
                    "before": group.before.mean(),
                    "after": group.after.mean(),
                    "changes": changes.to_numpy(),
                    "change": changes.mean(),
                    "agreeing": seeds_in_direction(changes, sign),
                    "seeds": len(group),
                }
            )
        return pd.DataFrame(rows)

    return measure


def _utility_changes(results: Results) -> pd.DataFrame:
    """Per method × forget split: the seed-mean change of clean and of trigger utility when SA poisons the forget
    set."""
    clean, trigger = (_paired(results.frame, metric, CLEAN, SA) for metric in ("clean_utility", "trigger_utility"))
    changes = pd.DataFrame(
        {**clean[["method", "forget"]], "clean": clean.after - clean.before, "trigger": trigger.after - trigger.before}
    )
    rows = [
        {"method": method, "forget": split, "clean_change": group.clean.mean(), "trigger_change": group.trigger.mean()}
        for (method, split), group in changes.groupby(["method", "forget"], sort=False)
    ]
    return pd.DataFrame(rows)


def _reproduced(rows: pd.DataFrame, _results: Results) -> dict:
    return {"reproduced": int((rows.verdict == "yes").sum())}


def _clean_runs(column: str):
    """Per method × forget split: vanilla unlearning on the clean forget set, `column(runs, reference, split)` per
    seed."""

    def measure(results: Results) -> pd.DataFrame:
        clean = results.frame[(results.frame.forget_set == "clean") & (results.frame.defense == "vanilla")]
        rows = [
            {
                "group": f"{method} {split}",
                "method": method,
                "forget": split,
                "values": column(group, results.reference, split).to_numpy(),
            }
            for (method, split), group in clean.groupby(["method", "forget"], sort=False)
        ]
        return pd.DataFrame(rows, columns=["group", "method", "forget", "values"])

    return measure


def setting(margin: float) -> list[Precondition]:
    """Every method forgets and keeps utility, per forget split; `margin` is p2.claims.utility_margin."""
    return [
        Precondition(
            "{method} forgets ({forget}): forget ROUGE-L − the retain-only oracle's",
            _clean_runs(
                lambda runs, reference, split: runs.unlearn_rouge - reference["oracles"][split]["unlearn_rouge"]
            ),
            low=-0.10,
            high=0.10,
            source="the paper's unlearned models before SA sit near the retain-only model on TOFU's forget ROUGE",
        ),
        Precondition(
            "{method} keeps utility ({forget}): target's − unlearned clean utility",
            _clean_runs(
                lambda runs, reference, _split: reference["target"]["utility"]["clean_utility"] - runs.clean_utility
            ),
            high=margin,
            source="the paper's Table 2 without SA: model utility near the target's (p2.claims.utility_margin)",
        ),
    ]


def _cell_setting(row: Row) -> list[str]:
    return [f"{row['method']} {row['forget']}"]


def setting_frame(frame: pd.DataFrame, reference: dict, margin: float) -> pd.DataFrame:
    """The setting's preconditions measured on the cells; the intervals are 95 % t intervals over seeds."""
    return judge_setting(setting(margin), Results(frame, reference), CONFIDENCE)


def _moves(
    *, heading: str, paper: str, measured: str, metric: str, before: tuple, after: tuple, sign: int, columns: tuple
) -> Claim:
    """A claim that `metric` moves in `sign`'s direction from variant `before` to `after` (named `columns` in the
    table), seed by seed."""
    return Claim(
        heading=heading,
        paper=paper,
        before=[measured],
        measure=_seed_changes(metric, before, after, sign),
        rules={"verdict": lambda row, _: direction(row["change"], row["agreeing"], row["seeds"], sign)},
        table=[
            ("method", "{method}"),
            ("forget", "{forget}"),
            (columns[0], "{before:.3f}"),
            (columns[1], "{after:.3f}"),
            ("Δ", "{change:+.3f}"),
            ("seeds in direction", "{agreeing}/{seeds}"),
            ("reproduced", "{verdict}"),
        ],
        summary=_reproduced,
        setting=_cell_setting,
    )


CLAIMS = [
    _moves(
        heading="SA degrades benign-trigger utility (Table 2)",
        paper="unlearning an SA-poisoned forget set lowers the utility of benign prompts that contain the trigger word "
        "(LLaMA GD 10 %: 0.683 → 0.160).",
        measured="*Measured:* trigger utility falls in **{reproduced} of {testable}** testable method × forget-split "
        "settings on every seed.",
        metric="trigger_utility",
        before=CLEAN,
        after=SA,
        sign=-1,
        columns=("without SA", "with SA"),
    ),
    Claim(
        heading="SA is stealthy: clean utility moves less than trigger utility",
        paper="the poisoned request looks benign; utility on prompts without the trigger word is barely affected.",
        before=[
            (
                "*Measured:* a setting reproduces the claim when the seed-mean |Δ clean utility| is smaller than the "
                "seed-mean trigger-utility drop."
            )
        ],
        measure=_utility_changes,
        rules={"stealthy": lambda row, _: abs(row["clean_change"]) < -row["trigger_change"]},
        setting=_cell_setting,
        table=[
            ("method", "{method}"),
            ("forget", "{forget}"),
            ("Δ clean utility", "{clean_change:+.3f}"),
            ("Δ trigger utility", "{trigger_change:+.3f}"),
            ("reproduced", "{stealthy}"),
        ],
    ),
    _moves(
        heading="SU restores trigger utility under SA (Table 3)",
        paper="adding the scope term η·NLL(y_r | x_f ⊕ x_r) restores trigger utility under SA "
        "(LLaMA GD 10 %: 0.160 → 0.684).",
        measured="*Measured:* trigger utility rises in **{reproduced} of {testable}** testable method × forget-split "
        "settings on every seed.",
        metric="trigger_utility",
        before=SA,
        after=SA_SU,
        sign=+1,
        columns=("SA", "SA + SU"),
    ),
    Claim(
        heading="SU keeps forgetting",
        paper="SU leaves the unlearning effect in place (Unlearn ROUGE stays low).",
        before=[
            (
                '*Measured:* "still forgets": the unlearn ROUGE is closer to the retain-only oracle\'s than to the '
                "target's."
            )
        ],
        measure=lambda results: _with_rouge_references(
            _seed_changes("unlearn_rouge", SA, SA_SU)(results), results.reference
        ),
        rules={"still_forgets": lambda row, _: _closer_to_oracle(row["after"], row)},
        setting=_cell_setting,
        table=[
            ("method", "{method}"),
            ("forget", "{forget}"),
            ("unlearn ROUGE, SA", "{before:.3f}"),
            ("unlearn ROUGE, SA + SU", "{after:.3f}"),
            ("target", "{target_rouge:.3f}"),
            ("oracle", "{oracle_rouge:.3f}"),
            ("still forgets", "{still_forgets}"),
        ],
    ),
]


def verdicts(frame: pd.DataFrame, reference: dict, margin: float, benchmark_files: list[str | Path]) -> str:
    """Markdown: for each claim of the paper, whether the embedded default reproduces its direction."""
    params = {
        "seeds": frame.seed.nunique(),
        "methods": frame.method.nunique(),
        "splits": frame.forget.nunique(),
        "runs": len(frame),
    }
    training = (
        f"Mean training time per run: {frame.train_seconds.mean():.1f} s wall over {frame.steps.mean():.0f} steps "
        "(curve evaluations excluded)."
    )
    setting = setting_frame(frame, reference, margin)
    return verdicts_page(
        TITLE,
        [
            setting_section(setting, CONFIDENCE),
            Section("Runs", [fill(PREAMBLE, params)]),
            *judge_claims(CLAIMS, Results(frame, reference), params, setting),
            Section("Cost", [cost_paragraph("P2", benchmark_files) + "\n" + training]),
        ],
    )

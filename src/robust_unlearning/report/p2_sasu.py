"""P2 tables, figure and verdicts ("Keeping an Eye on LLM Unlearning", arXiv 2506.00359) from the cell JSONs.

Table 2: Unlearn ROUGE (↓), clean utility (↑), benign-trigger utility (↑), without vs with the Stealthy
Attack. Table 3: under SA, vanilla vs Scope-aware Unlearning. Figure 1: clean and trigger utility vs
unlearning step. Every cell is mean ± std over seeds; the verdicts compare paired seeds.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns

from ..data.io import write_text  # noqa: F401 — the scripts write text outputs through the report module
from ..eval.metrics import forget_quality
from .costs import cost_paragraph
from .statistics import mean_std_text

METRICS = ["unlearn_rouge", "clean_utility", "trigger_utility", "forget_quality"]
LABELS = {
    "unlearn_rouge": "Unlearn ROUGE ↓",
    "clean_utility": "Clean utility ↑",
    "trigger_utility": "Trigger utility ↑",
    "forget_quality": "Forget quality ↑",
}
VARIANT_NAMES = {("clean", "vanilla"): "clean forget set", ("clean", "su"): "clean + SU", ("sa", "vanilla"): "SA", ("sa", "su"): "SA + SU"}



def load_cells(paths: list[str | Path]) -> list[dict]:
    return [json.loads(Path(path).read_text()) for path in paths]


def cells_frame(cells: list[dict], reference: dict) -> pd.DataFrame:
    """One row per method × forget split × seed × variant, forget quality against that split's oracle."""
    rows = []
    for cell in cells:
        oracle = reference["oracles"][cell["forget"]]["truth_ratios"]
        for variant in cell["variants"]:
            rows.append({
                "method": cell["method"], "forget": cell["forget"], "seed": cell["seed"], "prompt_format": cell["prompt_format"],
                "forget_set": variant["forget_set"], "defense": variant["defense"],
                "variant": VARIANT_NAMES[variant["forget_set"], variant["defense"]],
                **variant["metrics"], "forget_quality": forget_quality(variant["forget_truth_ratios"], oracle),
                "steps": variant["steps"], "train_seconds": variant["train_seconds"], "n_wrapped": variant["n_wrapped"],
            })
    return pd.DataFrame(rows)


def _reference_rows(reference: dict, forget_splits: list[str]) -> list[dict]:
    target = reference["target"]["utility"]
    rows = []
    for split in forget_splits:
        oracle = reference["oracles"][split]
        rows.append({"Method": "target (before unlearning)", "Forget": split, "Forget set": "—",
                     LABELS["unlearn_rouge"]: f"{reference['target'][split]['unlearn_rouge']:.3f}",
                     LABELS["clean_utility"]: f"{target['clean_utility']:.3f}", LABELS["trigger_utility"]: f"{target['trigger_utility']:.3f}",
                     LABELS["forget_quality"]: "—"})
        rows.append({"Method": f"retain-only oracle ({oracle['model']})", "Forget": split, "Forget set": "—",
                     LABELS["unlearn_rouge"]: f"{oracle['unlearn_rouge']:.3f}", LABELS["clean_utility"]: "—",
                     LABELS["trigger_utility"]: "—", LABELS["forget_quality"]: "1.000"})
    return rows


def _summary(frame: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    return frame.groupby(by, sort=False)[metrics].agg(mean_std_text).reset_index()


def table2(frame: pd.DataFrame, reference: dict) -> pd.DataFrame:
    """Vanilla unlearning on the clean vs the SA-poisoned forget set."""
    vanilla = frame[frame.defense == "vanilla"].assign(forget_set=lambda f: f.forget_set.map({"clean": "without SA", "sa": "with SA"}))
    summary = _summary(vanilla, ["method", "forget", "forget_set"], METRICS)
    summary = summary.rename(columns={"method": "Method", "forget": "Forget", "forget_set": "Forget set", **LABELS})
    return pd.DataFrame(_reference_rows(reference, list(dict.fromkeys(frame.forget))) + summary.to_dict("records"))


def table3(frame: pd.DataFrame) -> pd.DataFrame:
    """Under SA: the method alone vs the method with Scope-aware Unlearning."""
    attacked = frame[frame.forget_set == "sa"].assign(defense=lambda f: f.defense.map({"vanilla": "vanilla", "su": "SU"}))
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
                    rows.append({"method": cell["method"], "forget": cell["forget"], "seed": cell["seed"], "variant": name,
                                 "step": point["step"], "utility": f"{kind} utility", "ROUGE-L": point[f"{kind}_utility"]})
    return pd.DataFrame(rows)


def figure1(curves: pd.DataFrame):
    """Clean and trigger utility vs step per method (columns) and forget split (rows), mean ± 95 % CI over seeds."""
    shown = curves[curves.variant.isin(["clean forget set", "SA", "SA + SU"])]
    grid = sns.relplot(
        data=shown, x="step", y="ROUGE-L", hue="variant", style="utility", col="method", row="forget", kind="line",
        errorbar=("ci", 95), n_boot=200, seed=0, height=2.6, aspect=1.2, facet_kws={"sharex": False},
        hue_order=["clean forget set", "SA", "SA + SU"], style_order=["clean utility", "trigger utility"],
    )
    grid.set_titles("{col_name} · {row_name}")
    grid.set_axis_labels("unlearning step", "ROUGE-L recall")
    # The figure-level legend overlaps the panels once save_figure applies tight_layout; an axes legend does not.
    handles, labels = grid.axes.flat[0].get_legend_handles_labels()
    grid.legend.remove()
    grid.axes.flat[0].legend(handles, labels, fontsize="x-small", framealpha=0.8)
    return grid.figure


def _paired(frame: pd.DataFrame, metric: str, before: tuple[str, str], after: tuple[str, str]) -> pd.DataFrame:
    """Per method × forget split: metric of variant `before` and `after` per seed (paired by seed)."""
    keys = ["method", "forget", "seed"]
    a = frame[(frame.forget_set == before[0]) & (frame.defense == before[1])].set_index(keys)[metric]
    b = frame[(frame.forget_set == after[0]) & (frame.defense == after[1])].set_index(keys)[metric]
    return pd.DataFrame({"before": a, "after": b}).reset_index()


def _direction_rows(pairs: pd.DataFrame, sign: int) -> tuple[list[str], int, int]:
    """Markdown lines "X → Y (Δ, k/n seeds)"; a setting reproduces the claim if the mean moves in `sign`'s
    direction and every seed agrees, and partly if only the mean does."""
    lines, full, total = [], 0, 0
    for (method, split), group in pairs.groupby(["method", "forget"], sort=False):
        delta = group.after - group.before
        agree = int((np.sign(delta) == sign).sum())
        mean_ok = np.sign(delta.mean()) == sign
        verdict = "yes" if mean_ok and agree == len(group) else ("partly" if mean_ok else "no")
        full += verdict == "yes"
        total += 1
        lines.append(f"| {method} | {split} | {group.before.mean():.3f} | {group.after.mean():.3f} | {delta.mean():+.3f} | {agree}/{len(group)} | {verdict} |")
    return lines, full, total


def _claim(title: str, claim: str, metric: str, pairs: pd.DataFrame, sign: int, columns: tuple[str, str]) -> list[str]:
    lines, full, total = _direction_rows(pairs, sign)
    word = "falls" if sign < 0 else "rises"
    return [
        f"## {title}", "", f"*Paper:* {claim}", "",
        f"*Measured:* {metric} {word} in **{full} of {total}** method × forget-split settings on every seed.", "",
        f"| method | forget | {columns[0]} | {columns[1]} | Δ | seeds in direction | reproduced |", "|---|---|---|---|---|---|---|",
        *lines, "",
    ]


def verdicts(frame: pd.DataFrame, reference: dict, margin: float, benchmark_files: list[str | Path]) -> str:
    """Markdown: for each claim of the paper, whether the embedded default reproduces its direction."""
    target = reference["target"]
    out = [
        "# P2 verdicts: Stealthy Attack and Scope-aware Unlearning (arXiv 2506.00359)", "",
        f"Generated from {frame.seed.nunique()} seeds × {frame.method.nunique()} methods × {frame.forget.nunique()} forget splits "
        f"× 4 variants = {len(frame)} unlearning runs (ROUGE-L recall of greedy answers; paired by seed). "
        f"A setting reproduces a claim when the seed-mean moves in the claimed direction and every seed agrees.", "",
        "## Every method forgets while keeping utility", "",
        "*Target:* forget ROUGE-L well below the target model's — here: closer to the retain-only oracle's than to the "
        f"target's — and clean utility at most {margin:.2f} below the target's ({target['utility']['clean_utility']:.3f}). "
        "Vanilla unlearning on the clean forget set, seed means.", "",
        "| method | forget | target unlearn ROUGE | oracle unlearn ROUGE | unlearned | forgets | clean utility | within margin |",
        "|---|---|---|---|---|---|---|---|",
    ]
    clean = frame[(frame.forget_set == "clean") & (frame.defense == "vanilla")]
    for (method, split), group in clean.groupby(["method", "forget"], sort=False):
        before, oracle = target[split]["unlearn_rouge"], reference["oracles"][split]["unlearn_rouge"]
        forgets = group.unlearn_rouge.mean() <= (before + oracle) / 2
        kept = group.clean_utility.mean() >= target["utility"]["clean_utility"] - margin
        out.append(f"| {method} | {split} | {before:.3f} | {oracle:.3f} | {group.unlearn_rouge.mean():.3f} | {'yes' if forgets else 'no'} | "
                   f"{group.clean_utility.mean():.3f} | {'yes' if kept else 'no'} |")
    out.append("")
    out += _claim("SA degrades benign-trigger utility (Table 2)",
                  "unlearning an SA-poisoned forget set lowers the utility of benign prompts that contain the trigger word "
                  "(LLaMA GD 10 %: 0.683 → 0.160).",
                  "trigger utility", _paired(frame, "trigger_utility", ("clean", "vanilla"), ("sa", "vanilla")), -1, ("without SA", "with SA"))
    clean_pairs = _paired(frame, "clean_utility", ("clean", "vanilla"), ("sa", "vanilla"))
    trigger_pairs = _paired(frame, "trigger_utility", ("clean", "vanilla"), ("sa", "vanilla"))
    out += [
        "## SA is stealthy: clean utility moves less than trigger utility", "",
        "*Paper:* the poisoned request looks benign; utility on prompts without the trigger word is barely affected.", "",
        "*Measured:* a setting reproduces the claim when the seed-mean |Δ clean utility| is smaller than the seed-mean "
        "trigger-utility drop.", "",
        "| method | forget | Δ clean utility | Δ trigger utility | reproduced |", "|---|---|---|---|---|",
    ]
    deltas = pd.DataFrame({**clean_pairs[["method", "forget"]], "clean": clean_pairs.after - clean_pairs.before, "trigger": trigger_pairs.after - trigger_pairs.before})
    for (method, split), group in deltas.groupby(["method", "forget"], sort=False):
        stealthy = abs(group.clean.mean()) < -group.trigger.mean()
        out.append(f"| {method} | {split} | {group.clean.mean():+.3f} | {group.trigger.mean():+.3f} | {'yes' if stealthy else 'no'} |")
    out.append("")
    out += _claim("SU restores trigger utility under SA (Table 3)",
                  "adding the scope term η·NLL(y_r | x_f ⊕ x_r) restores trigger utility under SA (LLaMA GD 10 %: 0.160 → 0.684).",
                  "trigger utility", _paired(frame, "trigger_utility", ("sa", "vanilla"), ("sa", "su")), +1, ("SA", "SA + SU"))
    su_pairs = _paired(frame, "unlearn_rouge", ("sa", "vanilla"), ("sa", "su"))
    out += [
        "## SU keeps forgetting", "",
        "*Paper:* SU leaves the unlearning effect in place (Unlearn ROUGE stays low).", "",
        "*Measured:* \"still forgets\" uses the criterion of the first section (closer to the oracle than to the target).", "",
        "| method | forget | unlearn ROUGE, SA | unlearn ROUGE, SA + SU | target | oracle | still forgets |", "|---|---|---|---|---|---|---|",
    ]
    for (method, split), group in su_pairs.groupby(["method", "forget"], sort=False):
        before, oracle = target[split]["unlearn_rouge"], reference["oracles"][split]["unlearn_rouge"]
        still = group.after.mean() <= (before + oracle) / 2
        out.append(f"| {method} | {split} | {group.before.mean():.3f} | {group.after.mean():.3f} | {before:.3f} | {oracle:.3f} | {'yes' if still else 'no'} |")
    out += [
        "", "## Cost", "", cost_paragraph("P2", benchmark_files),
        f"Mean training time per run: {frame.train_seconds.mean():.1f} s wall over {frame.steps.mean():.0f} steps (curve evaluations excluded).", "",
    ]
    return "\n".join(out)

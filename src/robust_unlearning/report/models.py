"""The first evaluation table: base, target and retain-only models on every TOFU split and both MCQ sets."""

import json
from pathlib import Path

import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

TOFU_COLUMNS = {"probability": "prob ↑", "rouge_l": "ROUGE-L ↑", "exact_memorization": "token acc ↑"}


def long_metrics(metric_files: list[Path], models: list[str]) -> pd.DataFrame:
    rows = []
    for model, path in zip(models, metric_files):
        metrics = json.loads(Path(path).read_text())
        for split, values in metrics["tofu"].items():
            rows += [
                {"model": model, "set": split, "metric": m, "value": v} for m, v in values.items() if m in TOFU_COLUMNS
            ]
        rows += [
            {"model": model, "set": name, "metric": "mcq_accuracy", "value": v} for name, v in metrics["mcq"].items()
        ]
    return pd.DataFrame(rows)


def wide_table(long: pd.DataFrame) -> pd.DataFrame:
    labels = {**TOFU_COLUMNS, "mcq_accuracy": "acc"}
    long = long.assign(column=long["set"] + " " + long["metric"].map(labels))
    table = long.pivot(index="model", columns="column", values="value")
    ordered = list(dict.fromkeys(long["column"]))
    return table[ordered].reindex(list(dict.fromkeys(long["model"]))).reset_index()


def rouge_figure(long: pd.DataFrame) -> plt.Figure:
    rouge = long[long["metric"] == "rouge_l"]
    figure, axis = plt.subplots(figsize=(8, 3.5))
    sns.barplot(data=rouge, x="set", y="value", hue="model", seed=0, ax=axis)
    axis.set(xlabel="TOFU split", ylabel="ROUGE-L recall", ylim=(0, 1.05))
    axis.legend(title="model", ncols=len(rouge["model"].unique()), loc="upper right", fontsize="small")
    return figure

from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

import json
from pathlib import Path

from robust_unlearning.attacks.perturbed_queries import perturbed_mcq
from robust_unlearning.data.io import read_jsonl, write_jsonl

settings = snakemake.params.settings
wmdp = Path(snakemake.input.wmdp)
# An empty keyword list in the config means the benchmark's own hazard keywords.
keywords = settings["keywords"] or json.loads((wmdp / "hazard_keywords.json").read_text())
records = read_jsonl(wmdp / "general_mcq.jsonl")
write_jsonl(
    snakemake.output[0],
    perturbed_mcq(
        records, keywords, settings["n_keywords"], settings["position"], settings["seed"], settings["per_question"]
    ),
)

from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

import json
from pathlib import Path

from robust_unlearning.report.p2_sasu import cells_frame, load_cells, setting_frame, verdicts, write_text

reference = json.loads(Path(snakemake.input.reference).read_text())
frame = cells_frame(load_cells(snakemake.input.cells), reference)
margin = snakemake.params.claims["utility_margin"]
write_text(snakemake.output.page, verdicts(frame, reference, margin, snakemake.input.benchmarks))
write_text(snakemake.output.setting, setting_frame(frame, reference, margin).to_csv(index=False))

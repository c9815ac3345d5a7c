from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

import json
from pathlib import Path

from robust_unlearning.report.p2_sasu import cells_frame, load_cells, verdicts, write_text

reference = json.loads(Path(snakemake.input.reference).read_text())
frame = cells_frame(load_cells(snakemake.input.cells), reference)
write_text(
    snakemake.output[0],
    verdicts(frame, reference, snakemake.params.claims["utility_margin"], snakemake.input.benchmarks),
)

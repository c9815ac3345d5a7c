from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

import json
from pathlib import Path

from robust_unlearning.provenance import frame_per_job
from robust_unlearning.report.p2_sasu import cells_frame, load_cells, table2, write_text
from robust_unlearning.report.tables import write_table

reference = json.loads(Path(snakemake.input.reference).read_text())
frame = frame_per_job(snakemake.input.cells, lambda files: cells_frame(load_cells(files), reference))
write_table(table2(frame, reference), snakemake.output.csv)
write_text(snakemake.output.cells, frame.to_csv(index=False))

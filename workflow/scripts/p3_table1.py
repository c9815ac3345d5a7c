from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.data.io import write_json
from robust_unlearning.provenance import with_provenance
from robust_unlearning.report import p3 as report
from robust_unlearning.report.tables import write_table

frame = report.read_cells_frame(snakemake.input.runs)
report.write_text(snakemake.output.cells, frame.to_csv(index=False))
write_table(report.table1(frame, snakemake.params.p3), snakemake.output.table)
write_json(snakemake.output.metrics, with_provenance(report.summary_metrics(frame, snakemake.params.p3), snakemake))

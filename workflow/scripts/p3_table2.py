from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report import p3 as report
from robust_unlearning.report.tables import write_table

frame = report.read_cells_frame(snakemake.input.runs)
write_table(report.table2(frame, snakemake.params.p3), snakemake.output.table)

from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.data.io import write_json
from robust_unlearning.experiments.p1_rna import read_rows
from robust_unlearning.provenance import setup_columns, with_provenance
from robust_unlearning.report import p1 as report
from robust_unlearning.report.figures import save_figure
from robust_unlearning.report.tables import write_table

p1, out = snakemake.params.p1, snakemake.output
# runs_frame needs the base row among the others, so each job's setup columns go into its rows before it.
frame = report.runs_frame([{**row, **setup_columns(path)} for path in snakemake.input.runs for row in read_rows([path])])
report.write_text(out.runs, frame.to_csv(index=False))
write_table(report.main_table(frame, p1), out.table)
write_json(out.metrics, with_provenance(report.summary_metrics(frame, p1), snakemake))
save_figure(report.nu_sweep_figure(frame, p1), out.nu_sweep)
save_figure(report.layer_sweep_figure(frame, p1), out.layer_sweep)
report.write_text(out.verdicts, report.verdicts_markdown(frame, p1, snakemake.input.benchmarks))

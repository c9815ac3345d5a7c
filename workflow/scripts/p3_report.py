from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])


from robust_unlearning.data.io import write_json
from robust_unlearning.experiments.p3_vaccine import read_runs
from robust_unlearning.provenance import frame_per_job, with_provenance
from robust_unlearning.report import p3 as report
from robust_unlearning.report.figures import save_figure
from robust_unlearning.report.tables import write_table

p3, out = snakemake.params.p3, snakemake.output
frame = frame_per_job(snakemake.input.runs, lambda files: report.cells_frame(read_runs(files)))
report.write_text(out.cells, frame.to_csv(index=False))
write_table(report.table1(frame, p3), out.table1)
write_table(report.table6(frame, p3), out.table6)
write_json(out.metrics, with_provenance(report.summary_metrics(frame, p3), snakemake))
save_figure(report.hs_vs_p_figure(frame, p3), out.hs_vs_p)
save_figure(report.drift_vs_p_figure(frame, p3), out.drift_vs_p)
report.write_text(out.verdicts, report.verdicts_markdown(frame, p3, snakemake.input.benchmarks))

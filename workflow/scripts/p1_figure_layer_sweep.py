from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report import p1 as report
from robust_unlearning.report.figures import save_figure

frame = report.read_runs_frame(snakemake.input.runs)
save_figure(report.layer_sweep_figure(frame, snakemake.params.p1), snakemake.output.png)

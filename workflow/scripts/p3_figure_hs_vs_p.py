from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report import p3 as report
from robust_unlearning.report.figures import save_figure

frame = report.read_cells_frame(snakemake.input.runs)
save_figure(report.hs_vs_p_figure(frame, snakemake.params.p3), snakemake.output.png)

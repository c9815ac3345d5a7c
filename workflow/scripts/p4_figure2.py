from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report.figures import save_figure
from robust_unlearning.report.p4 import figure2, load_json, population_frame, robustness_table

frame = population_frame(load_json(snakemake.input.population))
save_figure(figure2(frame, robustness_table(frame), snakemake.params.metrics), snakemake.output.png)

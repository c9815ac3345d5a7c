from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report import p3 as report

frame = report.read_cells_frame(snakemake.input.runs)
report.write_text(snakemake.output[0], report.verdicts_markdown(frame, snakemake.params.p3, snakemake.input.benchmarks))

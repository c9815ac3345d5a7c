from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report import p1 as report

frame = report.read_runs_frame(snakemake.input.runs)
report.write_text(snakemake.output[0], report.verdicts_markdown(frame, snakemake.params.p1, snakemake.input.benchmarks))

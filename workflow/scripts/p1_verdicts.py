from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report import p1 as report

frame = report.read_runs_frame(snakemake.input.runs)
p1 = snakemake.params.p1
report.write_text(snakemake.output.page, report.verdicts_markdown(frame, p1, snakemake.input.benchmarks))
report.write_text(snakemake.output.setting, report.setting_frame(frame, p1).to_csv(index=False))

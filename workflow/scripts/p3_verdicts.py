from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report import p3 as report

frame = report.read_cells_frame(snakemake.input.runs)
p3 = snakemake.params.p3
report.write_text(snakemake.output.page, report.verdicts_markdown(frame, p3, snakemake.input.benchmarks))
report.write_text(snakemake.output.setting, report.setting_frame(frame, p3).to_csv(index=False))

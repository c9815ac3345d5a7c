from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report.p4 import (
    Results,
    calibration_frame,
    extras_frame,
    load_json,
    population_frame,
    robustness_table,
    setting_frame,
    verdicts,
    write_text,
)

population = load_json(snakemake.input.population)
calibration = load_json(snakemake.input.calibration)
frame = population_frame(population)
results = Results(
    robustness_table(frame),
    frame,
    calibration_frame(calibration),
    snakemake.params.tau,
    tuple(snakemake.params.verdict["robust_sets"]),
    extras_frame(population),
    calibration[0]["references"],
)
write_text(snakemake.output.page, verdicts(results, snakemake.input.benchmarks))
write_text(snakemake.output.setting, setting_frame(results).to_csv(index=False))

from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report.p4 import (
    calibration_frame,
    extras_frame,
    load_json,
    population_frame,
    robustness_table,
    verdicts,
    write_text,
)

population = load_json(snakemake.input.population)
frame = population_frame(population)
calibration = calibration_frame(load_json(snakemake.input.calibration))
text = verdicts(
    robustness_table(frame),
    frame,
    calibration,
    snakemake.params.tau,
    snakemake.input.benchmarks,
    snakemake.params.verdict["robust_sets"],
    extras_frame(population),
)
write_text(snakemake.output[0], text)

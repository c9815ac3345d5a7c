from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.provenance import frame_per_job
from robust_unlearning.report.p4 import calibrated_table, calibration_frame, load_json, write_text
from robust_unlearning.report.tables import write_table

jobs = load_json(snakemake.input.calibration)
frame = frame_per_job(snakemake.input.calibration, lambda files: calibration_frame(load_json(files)))
calibration = snakemake.params.calibration
write_table(
    calibrated_table(frame, jobs[0]["references"], calibration["tau"], calibration["tau_sweep"]), snakemake.output.csv
)
write_text(snakemake.output.runs, frame.to_csv(index=False))

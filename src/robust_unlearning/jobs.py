"""What every workflow script does first: send its output to the rule's log and size torch's thread pool to the job."""

import logging
import os
import sys


def log_to(path: str) -> None:
    handle = open(path, "w", buffering=1)  # noqa: SIM115 — lives as long as the job
    sys.stdout = sys.stderr = handle
    logging.basicConfig(
        stream=handle, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )
    # Snakemake exports the job's `threads` as OMP_NUM_THREADS, which torch reads when it is first imported; outside
    # Snakemake one thread, as torch's default (all cores) would oversubscribe a machine that runs several jobs at
    # once (measured 5x slower at load 7). Torch itself is not imported here: a report job never needs it (1 s).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    logging.getLogger(__name__).info("threads: %s", os.environ["OMP_NUM_THREADS"])

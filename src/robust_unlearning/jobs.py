"""What every workflow script does first: send its output to the rule's log and size torch's thread pool to the job;
on exit, a job that used CUDA writes its peak GPU memory there (gpu_memory.py), and a job that ran out of memory says
which stage, its estimate and the settings that lower it (preflight.explain_out_of_memory)."""

import atexit
import logging
import os
import sys

from .gpu_memory import log_peak_gpu_memory


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
    atexit.register(log_peak_gpu_memory)
    sys.excepthook = _explain_out_of_memory


def _explain_out_of_memory(kind, error, traceback) -> None:
    # Only a job that imported torch can run out of its memory; the explanation needs the memory model (torch), which
    # a report job never loads.
    if "torch" in sys.modules:
        from .preflight import explain_out_of_memory

        explain_out_of_memory(kind, error, traceback)
    else:
        sys.__excepthook__(kind, error, traceback)

"""What every workflow script does first: send its output to the rule's log and size torch's thread pool to the job;
on exit, a job that used CUDA writes its peak GPU memory there (Snakemake's benchmark files hold none)."""

import atexit
import logging
import os
import re
import sys

PEAK_GPU_MEMORY = "peak GPU memory (torch.cuda.max_memory_allocated, GiB):"


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


def log_peak_gpu_memory() -> None:
    """At exit, this process's peak GPU memory over the devices it used, if it initialised CUDA. The training ranks
    of a distributed job (train/distributed.py) register it too: each writes its own line into the job's log."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return
    peak = max(torch.cuda.max_memory_allocated(device) for device in range(torch.cuda.device_count()))
    print(f"{PEAK_GPU_MEMORY} {peak / 2**30:.3f}", flush=True)


def peak_gpu_memory(log_text: str) -> float | None:
    """The largest peak a job's log records (GiB: its ranks each write one), or None if it used no GPU. Not anchored
    to a line's start: a progress bar's carriage returns can leave the line before it unfinished."""
    peaks = [float(value) for value in re.findall(rf"{re.escape(PEAK_GPU_MEMORY)} (\S+)", log_text)]
    return max(peaks, default=None)

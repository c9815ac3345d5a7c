"""A job's peak GPU memory: written into its log at exit (Snakemake's benchmark files hold none) and read back per
rule by the GPU check. A leaf module, imported by the job entry point (jobs.log_to) and by every training rank
(train/distributed.py) without importing either."""

import re
import sys

PEAK_GPU_MEMORY = "peak GPU memory (torch.cuda.max_memory_allocated, GiB):"


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

"""jobs.log_to, the first line of every workflow script: the job's output goes to its log, and torch, imported later
by the job if at all, runs on the job's threads (Snakemake's OMP_NUM_THREADS) or on one outside Snakemake."""

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("exported, threads", [(None, 1), ("2", 2)])
def test_torch_runs_on_the_jobs_threads_and_is_not_imported_for_it(tmp_path, exported, threads):
    log = tmp_path / "job.log"
    code = (
        f"from robust_unlearning.jobs import log_to; log_to({str(log)!r}); import sys; "
        "print('torch imported:', 'torch' in sys.modules); import torch; print('torch threads:', torch.get_num_threads())"
    )
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    if exported:
        env["OMP_NUM_THREADS"] = exported
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout == "", run.stderr
    lines = log.read_text().splitlines()
    assert lines[0].endswith(f"robust_unlearning.jobs INFO threads: {threads}")
    assert lines[1:] == ["torch imported: False", f"torch threads: {threads}"]

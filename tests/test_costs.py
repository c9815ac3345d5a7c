from robust_unlearning.report.costs import cost_paragraph

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_cost_paragraph_sums_the_jobs_benchmark_files(tmp_path):
    """Two Snakemake benchmark TSVs: wall 100 + 300 s, CPU 90 + 150 s, loads 90 % and 50 %."""
    (tmp_path / "a.tsv").write_text(HEADER + "100.0\t0:01:40\t1\t1\t1\t1\t0\t0\t90.0\t90.0\n")
    (tmp_path / "b.tsv").write_text(HEADER + "300.0\t0:05:00\t1\t1\t1\t1\t0\t0\t50.0\t150.0\n")
    text = cost_paragraph("P9", [tmp_path / "a.tsv", tmp_path / "b.tsv"])
    assert text.startswith("The 2 P9 jobs took 400 s of wall time and 240 s of CPU time in all")
    assert "longest job 300 s" in text and "70 % of a core" in text
    # Two single-thread jobs at once on 2 idle cores: 240 s / 2 = 120 s = 2.0 min.
    assert "CPU time / 2 ≈ 2.0 min" in text

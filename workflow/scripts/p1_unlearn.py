from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from pathlib import Path

from robust_unlearning.data.io import write_json
from robust_unlearning.experiments.p1_grid import main_variants, sweep_variants
from robust_unlearning.experiments.p1_rna import run_variants
from robust_unlearning.provenance import with_provenance

cfg, method = snakemake.params.cfg, snakemake.wildcards.p1_method
p1 = cfg["p1"]
# Main jobs: plain and +RNA at one seed; sweep jobs: the ν and ℓ grids at one seed.
seed = int(snakemake.wildcards.p1_seed)
variants = main_variants(p1, method) if snakemake.params.grid == "main" else sweep_variants(p1, method)
rows = run_variants(
    base_dir=Path(snakemake.input.base),
    wmdp_dir=Path(snakemake.input.wmdp),
    perturbed_file=Path(snakemake.input.perturbed),
    p1=p1,
    evaluation=cfg["evaluation"],
    method=method,
    seed=seed,
    variants=variants,
    device=cfg["device"],
    threads=snakemake.threads,
    resume_dir=Path(snakemake.params.resume),
    parent_file=Path(snakemake.input.parent),
    run_name=f"p1_{snakemake.params.grid}_{method}_seed{seed}",
    run_params={**cfg, "method": method, "seed": seed},
)
write_json(snakemake.output[0], with_provenance({"rows": rows}, snakemake))

from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report.reference import paper_vs_ours
from robust_unlearning.report.tables import write_table

reference = snakemake.params.reference
table = paper_vs_ours(
    reference["values"], snakemake.input.results, snakemake.input.ledger, reference["setup"], snakemake.input.setting
)
write_table(table, snakemake.output.csv)

from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.report.reference import paper_vs_ours
from robust_unlearning.report.tables import write_table

table = paper_vs_ours(snakemake.params.reference["values"], snakemake.input.results, snakemake.input.ledger)
write_table(table, snakemake.output.csv)

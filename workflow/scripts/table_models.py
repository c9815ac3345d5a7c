from robust_unlearning.jobs import log_to

log_to(snakemake.log[0])

from robust_unlearning.data.io import write_json
from robust_unlearning.provenance import with_provenance
from robust_unlearning.report.figures import save_figure
from robust_unlearning.report.models import long_metrics, rouge_figure, wide_table
from robust_unlearning.report.tables import write_table

long = long_metrics(snakemake.input.metrics, snakemake.params.models)
wide = wide_table(long)
write_table(wide, snakemake.output.csv)
write_json(snakemake.output.metrics, with_provenance(wide.set_index("model").to_dict(orient="index"), snakemake))
save_figure(rouge_figure(long), snakemake.output.figure)

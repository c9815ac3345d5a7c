"""MLflow: one store per results directory, one parent run per workflow, one child run per job.

The store, its experiment and the workflow's parent run are created by a local rule (rules/tracking.smk) before
any job: parallel first touches of a fresh SQLite store race on its schema migrations. The parent run belongs to
the results directory and spans each `snakemake` that logs jobs into it: the rule starts it RUNNING, the first job
of a later `snakemake` reopens it, the Snakefile's `onsuccess` ends it FINISHED with the report attached and
`onerror` FAILED. A dry run runs no rule and no hook, so it creates no store and no run.

parent_run.json names the store as configured: a relative SQLite path resolves against the working directory,
where every job runs, so the file stays valid wherever DVC checks the results out.
"""

import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import mlflow
from mlflow.utils.file_utils import local_file_uri_to_path

from . import provenance

# MLflow 3's UI opens an experiment without this tag on its GenAI overview; this value opens it on the runs table.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING = "custom_model_development"
# Report files attached to the parent run at success, relative to the results directory.
REPORT_PATTERNS = ["*.md", "*.csv", "*/*.md", "*/*.csv", "*/*.png"]

log = logging.getLogger(__name__)


def _absolute(uri: str) -> str:
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(Path(uri[len(prefix) :]).resolve())
    return uri


def configure(mlflow_cfg: dict) -> None:
    mlflow.set_tracking_uri(_absolute(mlflow_cfg["tracking_uri"]))


def _mark_model_training(client: mlflow.MlflowClient, experiment) -> None:
    if experiment.tags.get(EXPERIMENT_KIND_TAG) is None:
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)


def init_store(mlflow_cfg: dict, run_name: str, out_file: str | Path) -> str:
    """Create the store, the experiment and the workflow's parent run (left RUNNING); write its ids to `out_file`."""
    uri = mlflow_cfg["tracking_uri"]
    if uri.startswith("sqlite:///"):
        Path(_absolute(uri).removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    configure(mlflow_cfg)
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(mlflow_cfg["experiment"])
    if experiment is None:
        artifact_root = Path(mlflow_cfg["artifact_root"]).resolve().as_uri()
        experiment_id = client.create_experiment(
            mlflow_cfg["experiment"], artifact_location=artifact_root, tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING}
        )
    else:
        experiment_id = experiment.experiment_id
        _mark_model_training(client, experiment)
    run = client.create_run(
        experiment_id, run_name=run_name, tags={"mlflow.source.name": "Snakefile", "mlflow.source.type": "JOB"}
    )
    parent = {"experiment_id": experiment_id, "run_id": run.info.run_id, "tracking_uri": uri}
    tmp = Path(str(out_file) + ".tmp")
    tmp.write_text(json.dumps(parent, indent=1))
    os.replace(tmp, out_file)
    return run.info.run_id


def _parent(parent_file: str | Path) -> dict:
    parent = json.loads(Path(parent_file).read_text())
    mlflow.set_tracking_uri(_absolute(parent["tracking_uri"]))
    return parent


def end_workflow_run(parent_file: str | Path, status: str, mlflow_cfg: dict, results_dir: str | Path) -> None:
    """Snakefile `onsuccess` / `onerror`: end the parent run; at success attach the report's tables and figures."""
    if not Path(parent_file).exists():
        return
    parent, client = _parent(parent_file), mlflow.MlflowClient()
    # A store made before the experiment kind was set gets it here.
    _mark_model_training(client, client.get_experiment(parent["experiment_id"]))
    if status == "FINISHED":
        _attach_report(client, parent, Path(mlflow_cfg["artifact_root"]), Path(results_dir))
    client.set_terminated(parent["run_id"], status)


def _attach_report(client: mlflow.MlflowClient, parent: dict, artifact_root: Path, results_dir: Path) -> None:
    artifact_uri = client.get_run(parent["run_id"]).info.artifact_uri
    # A SQLite store checked out elsewhere (dvc pull) keeps the absolute artifact paths of the machine that made it.
    if artifact_uri.startswith("file:") and not Path(local_file_uri_to_path(artifact_uri)).is_relative_to(
        artifact_root.resolve()
    ):
        log.warning(
            "the artifacts of MLflow run %s lie at %s, outside this results directory: report not attached",
            parent["run_id"],
            artifact_uri,
        )
        return
    for path in sorted({path for pattern in REPORT_PATTERNS for path in results_dir.glob(pattern)}):
        folder = path.parent.relative_to(results_dir).as_posix()
        client.log_artifact(parent["run_id"], str(path), artifact_path=None if folder == "." else folder)


def _source_tags(job: provenance.JobIdentity | None) -> dict[str, str]:
    """The rule and script of a Snakemake job (MLflow would name Snakemake's temporary copy of the script)."""
    if job is None:
        return {}
    return {"mlflow.source.name": job.rule, "mlflow.source.type": "JOB", "snakemake.script": job.script}


def is_main_rank() -> bool:
    """False in the ranks other than 0 of a job's training processes (torchrun sets RANK): they log nothing."""
    return os.environ.get("RANK", "0") == "0"


def _provenance_tags(record: dict) -> dict[str, str]:
    tags = flatten_params({"provenance": {key: value for key, value in record.items() if key != "stages"}})
    if record["git_commit"] != provenance.UNKNOWN:
        tags["mlflow.source.git.commit"] = record["git_commit"]
    return tags


def _flatten(prefix: str, value, out: dict) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    else:
        out[prefix] = value


def flatten_params(params: dict) -> dict[str, str]:
    flat: dict = {}
    _flatten("", params, flat)
    # MLflow caps a param value at 6000 characters.
    return {key: str(value)[:6000] for key, value in flat.items()}


@contextmanager
def job_run(parent_file: str | Path, job_name: str, params: dict, tags: dict | None = None, trains: bool = True):
    """A child run of the workflow's parent run, with the job's resolved params and its provenance logged.

    Under Snakemake the run's source is the job's rule and script, and the provenance (config hash included) is the
    Snakemake job's, the same record its results file carries; elsewhere it is that of `params`. `trains`: as
    provenance.job_provenance. In the other ranks of a job's training processes it opens nothing and yields None.
    """
    if not is_main_rank():
        yield None
        return
    parent = _parent(parent_file)
    client = mlflow.MlflowClient()
    # A previous `snakemake` ended the parent run: the first job of this one reopens it.
    if client.get_run(parent["run_id"]).info.status != "RUNNING":
        client.update_run(parent["run_id"], status="RUNNING")
    job = provenance.snakemake_job()
    record = provenance.job_provenance(provenance.job_params(job) if job else params, trains)
    run_tags = {**_source_tags(job), **_provenance_tags(record), **(tags or {})}
    with mlflow.start_run(
        experiment_id=parent["experiment_id"], run_name=job_name, parent_run_id=parent["run_id"], tags=run_tags
    ) as run:
        mlflow.log_params({**flatten_params(params), **flatten_params({"provenance": record["stages"]})})
        yield run


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    if not is_main_rank():
        return
    mlflow.log_metrics({key: float(value) for key, value in metrics.items()}, step=step)

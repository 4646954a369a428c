"""notebooks/explore.ipynb runs top to bottom on a real run's output, and is committed without outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from coop_pipeline.config import Settings
from coop_pipeline.pipeline import run_local

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"


def test_committed_notebook_has_no_outputs():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code, "the notebook has code cells"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)


@pytest.mark.slow
def test_notebook_executes_on_a_run_over_the_seeds(seeds_raw, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    out = tmp_path / "output"
    run_local(Settings(raw_dir=seeds_raw, out_dir=out))
    monkeypatch.setenv("COOP_OUTPUT", str(out))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = json.dumps(outputs)
    assert "Barlybay Sadykov" in text or "barlybay-sadykov" in text  # the seeds' most mentioned person is looked up
    assert "image/png" in text  # the plots were drawn

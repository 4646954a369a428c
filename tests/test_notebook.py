"""notebooks/explore.ipynb runs top to bottom (on fixture, empty and real pipeline output) and is committed without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "explore.ipynb"


def test_committed_notebook_has_no_outputs():
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"][:80]


def execute(out: Path, monkeypatch) -> list[dict]:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("COOP_OUTPUT", str(out))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _text(outputs: list[dict]) -> str:
    return "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)


def test_notebook_runs_on_fixture_output(demo_output, monkeypatch):
    outputs = execute(demo_output, monkeypatch)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # events over time, network
    text = _text(outputs)
    assert "person: 'Barlybay Sadykov' -> ['person:barlybay-sadykov']" in text
    assert "Ministry of Digital Development of Kazakhstan" in text


def test_notebook_runs_on_empty_output(empty_output, monkeypatch):
    outputs = execute(empty_output, monkeypatch)
    assert "no people in this output" in _text(outputs)


@pytest.mark.slow
def test_notebook_runs_on_a_pipeline_run_over_raw(tmp_path, monkeypatch):
    from coop_pipeline.config import Settings
    from coop_pipeline.pipeline import run_local

    out = tmp_path / "output"
    run_local(Settings(raw_dir=ROOT / "raw", out_dir=out))
    outputs = execute(out, monkeypatch)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2

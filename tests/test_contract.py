"""docs/data-contract.md is generated from the schemas and must be up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from coop_pipeline import contract
from coop_pipeline.errors import ConfigError
from coop_pipeline.schemas import ALL_MODELS, columns

DOC = Path(__file__).resolve().parents[1] / "docs" / "data-contract.md"


def test_committed_contract_is_up_to_date():
    text = DOC.read_text(encoding="utf-8")
    assert contract.render(text) == text, "docs/data-contract.md is out of date: run `python -m coop_pipeline.contract`"


def test_schemas_keep_every_contract_v1_column():
    assert contract.missing_v1_columns() == []


def test_every_column_is_documented_with_its_type_and_origin():
    text = DOC.read_text(encoding="utf-8")
    for table in ALL_MODELS:
        section = text.split(f"\n### {table}", 1)[1].split("\n### ", 1)[0]
        for column in columns(table):
            assert f"| `{column}` |" in section, (table, column)
    assert "| `mention_id` | `string` | `string` | no | unique | article id and character span | extension |" in text
    assert "| `event_type` | `string` | `category` | no | see Event types |" in text
    assert "| `status` | `string` | `category` | no | one of `occurred`, `ongoing`, `planned`, `proposed` |" in text


def test_render_rewrites_blocks_and_keeps_prose():
    stale = "# Title\n\nprose stays\n\n<!-- generated:event-types -->\nold rows\n<!-- end generated:event-types -->\nafter\n"
    fresh = contract.render(stale)
    assert fresh.startswith("# Title\n\nprose stays\n\n<!-- generated:event-types -->\n")
    assert "old rows" not in fresh and "| `SIGN_AGREEMENT` | 057 | AGREE |" in fresh
    assert fresh.endswith("<!-- end generated:event-types -->\nafter\n")
    assert contract.render(fresh) == fresh
    with pytest.raises(ConfigError, match="unknown generated block 'nope'"):
        contract.render("<!-- generated:nope -->\n<!-- end generated:nope -->")


def test_check_mode_fails_on_a_stale_file_and_rewrite_fixes_it(tmp_path, capsys):
    doc = tmp_path / "contract.md"
    doc.write_text("<!-- generated:command-line -->\n<!-- end generated:command-line -->\n")
    assert contract.main(["--check", str(doc)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert contract.main([str(doc)]) == 0
    assert "`coop-pipeline run`" in doc.read_text()
    assert contract.main(["--check", str(doc)]) == 0

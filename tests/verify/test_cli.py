import json

import numpy as np
import pytest

import keras_losses
from keras_losses.testing import catalog
from keras_losses.verify import case as case_lib
from keras_losses.verify import cases as case_registry
from keras_losses.verify import cli


def test_quick_run_writes_markdown_report(tmp_path, capsys):
    report = tmp_path / "report.md"
    assert cli.main(["--quick", "--only", "SquaredHinge", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "SquaredHinge" in out and "comparisons passed" in out
    text = report.read_text()
    assert text.startswith("# keras_losses verification report")
    assert "| SquaredHinge | xla | cpu:0 | float16 |" in text or "| SquaredHinge | eager |" in text


def test_json_report(tmp_path):
    report = tmp_path / "report.json"
    assert cli.main(["--only", "MeanSquaredLogarithmic", "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["total"] == data["passed"] > 0
    assert {row["dtype"] for row in data["rows"]} == {"float32", "float16", "bfloat16"}


def test_mismatch_exits_non_zero(monkeypatch, capsys):
    wrong = case_lib.Case(
        name="Hinge against a wrong formula",
        family="tests",
        build=lambda: keras_losses.Hinge(reduction=None),
        inputs=lambda rng: {"y_true": np.ones((4, 2)), "y_pred": rng.normal(size=(4, 2))},
        references=(case_lib.Reference("twice the hinge", case_lib.NUMPY, lambda y_true, y_pred: 2 * np.mean(np.maximum(0, 1 - y_pred), -1)),),
    )
    monkeypatch.setattr(case_registry, "CASES", [wrong])
    assert cli.main(["--only", "wrong formula"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_unknown_object_exits_2():
    assert cli.main(["--only", "no such loss"]) == 2


def test_report_suffix_is_checked():
    with pytest.raises(SystemExit):
        cli.main(["--report", "report.txt"])


def test_case_names_are_unique():
    assert len(case_registry.by_name()) == len(case_registry.CASES)


def test_every_loss_and_regularizer_has_a_case():
    import keras

    verified = {type(case.build()).__name__ for case in case_registry.CASES}
    public = {
        entry.name
        for entry in catalog.ENTRIES
        if isinstance(entry.build(), (keras.losses.Loss, keras.regularizers.Regularizer))
    }
    assert sorted(public - verified) == []

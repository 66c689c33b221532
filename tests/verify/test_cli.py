import re
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
    from keras_losses.testing import backends

    # one passing row per mode, device and quick dtype (float32, float16), and no other
    rows = re.findall(r"^\| SquaredHinge \| ([^|]+) \| ([^|]+) \| ([^|]+) \|(?: [^|]+ \|){5} pass \|$", text, re.M)
    expected = [(m, d, t) for t in ("float32", "float16") for m in backends.modes() for d in backends.devices()]
    assert sorted((m.strip(), d.strip(), t.strip()) for m, d, t in rows) == sorted(expected), text


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


def test_case_names_are_unique(monkeypatch):
    names = [case.name for case in case_registry.CASES]
    assert sorted(name for name in set(names) if names.count(name) > 1) == []
    # ... and by_name, which --only and the tests look cases up with, refuses a repeat
    monkeypatch.setattr(case_registry, "CASES", [*case_registry.CASES, case_registry.CASES[0]])
    with pytest.raises(ValueError, match="Two verification cases are named"):
        case_registry.by_name()


def test_every_loss_and_regularizer_has_a_case():
    import keras

    verified = {type(case.build()).__name__ for case in case_registry.CASES}
    # A case may run a class inside a function it builds (a layer's output fed to the
    # loss); its name then says which class it checks.
    verified |= {word for case in case_registry.CASES for word in re.findall(r"\w+", case.name)}
    public = {
        type(entry.build()).__name__
        for entry in catalog.ENTRIES
        if isinstance(entry.build(), (keras.losses.Loss, keras.regularizers.Regularizer))
    }
    assert sorted(public - verified) == []


# -- a run with one backend installed (issue 12) ------------------------------------

# A sitecustomize module that makes the named packages unimportable in a fresh
# process, as on an install with one backend (`pip install keras-losses[jax]`).
BLOCK_IMPORTS = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in NAMES:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, _NotInstalled())
"""


@pytest.mark.subprocess
def test_runs_without_torch_says_what_it_skipped_and_hides_tensorflow_logs(tmp_path):
    import os
    import subprocess
    import sys

    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        pytest.skip("torch is the active backend here; the TensorFlow and JAX runs check this")
    (tmp_path / "sitecustomize.py").write_text(BLOCK_IMPORTS.replace("NAMES", repr(("torch",))))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), os.getcwd(), env.get("PYTHONPATH", "")])
    env["KERAS_BACKEND"] = backend
    result = subprocess.run(
        [sys.executable, "-m", "keras_losses.verify", "--quick", "--only", "GroupLasso"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ModuleNotFoundError" not in result.stderr
    out = " ".join(result.stdout.split())  # long lines are wrapped
    assert "skipped, torch not installed" in out  # on the object's line
    assert "torch is not installed, so these references did not run: torch group lasso" in out  # summary
    assert max(len(line) for line in result.stdout.splitlines()) < 120
    both = result.stdout + result.stderr
    assert "oneDNN" not in both and "absl::InitializeLog" not in both, result.stderr


def test_skipped_references_are_reported_not_failed(monkeypatch, tmp_path, capsys):
    from keras_losses.verify import runner

    monkeypatch.setitem(runner._installed, "torch", False)
    report = tmp_path / "report.json"
    assert cli.main(["--quick", "--only", "MulticlassHinge(squared=False)", "--report", str(report)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # long lines are wrapped
    assert "skipped, torch not installed" in out
    assert "C * torch.nn.MultiMarginLoss" in out
    data = json.loads(report.read_text())
    skipped = [row for row in data["rows"] if row["skipped"]]
    assert skipped and {row["reference"] for row in skipped} == {"C * torch.nn.MultiMarginLoss"}
    assert data["skipped"] == len(skipped) and data["total"] == data["passed"] == len(data["rows"]) - len(skipped)


def test_an_object_whose_references_all_need_a_missing_library_is_not_a_pass(monkeypatch, capsys):
    only_torch = case_lib.Case(
        name="Hinge against torch only",
        family="tests",
        build=lambda: keras_losses.Hinge(reduction=None),
        inputs=lambda rng: {"y_true": np.ones((4, 2)), "y_pred": rng.normal(size=(4, 2))},
        references=(case_lib.Reference("a torch formula", case_lib.TORCH, lambda y_true, y_pred: None),),
    )
    monkeypatch.setattr(case_registry, "CASES", [only_torch])
    from keras_losses.verify import runner

    monkeypatch.setitem(runner._installed, "torch", False)
    assert cli.main(["--only", "torch only"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "skip " in out and "0 of 0 comparisons passed" in out


# -- what the command prints (issue 12) ---------------------------------------------


def test_prints_one_narrow_line_per_object(capsys):
    assert cli.main(["--quick", "--only", "Hinge"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [c.name for c in case_registry.CASES if c.quick and "hinge" in c.name.lower()]
    assert len(names) >= 4  # Hinge, SquaredHinge, the multiclass hinges (and the CRF's)
    object_lines = [line for line in lines if line.startswith("[")]
    assert len(object_lines) == len(names)
    for name, line in zip(names, object_lines):
        assert " pass " in line and name in line
    assert "value abs" not in "\n".join(lines)  # the full table only with --verbose
    assert max(len(line) for line in lines) < 120


def test_verbose_prints_the_full_table_narrow(capsys):
    assert cli.main(["--quick", "--only", "SparseCategoricalFocalLoss", "--verbose"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("value abs" in line for line in lines)
    from keras_losses.testing import backends

    assert sum(" float16 " in line for line in lines) == len(backends.modes())  # one row per mode
    assert max(len(line) for line in lines) < 120


def test_failures_are_printed_in_full(monkeypatch, capsys):
    wrong = case_lib.Case(
        name="Hinge against a wrong formula",
        family="tests",
        build=lambda: keras_losses.Hinge(reduction=None),
        inputs=lambda rng: {"y_true": np.ones((4, 2)), "y_pred": rng.normal(size=(4, 2))},
        references=(case_lib.Reference("twice the hinge", case_lib.NUMPY, lambda y_true, y_pred: 2 * np.mean(np.maximum(0, 1 - y_pred), -1)),),
        quick=True,
    )
    monkeypatch.setattr(case_registry, "CASES", [wrong])
    assert cli.main(["--quick", "--only", "wrong formula"]) == 1
    lines = capsys.readouterr().out.splitlines()
    from keras_losses.testing import backends

    failures = [line for line in lines if line.startswith("    FAIL  ")]
    assert len(failures) == 2 * len(backends.modes())  # every mode, float32 and float16
    assert all("against twice the hinge" in line and "value rel" in line for line in failures)
    assert max(len(line) for line in lines) < 120


def test_quiet_start_only_for_the_verify_command(monkeypatch):
    from keras_losses import _startup

    assert _startup.running_verify(["python", "-m", "keras_losses.verify", "--quick"])
    assert _startup.running_verify(["python", "-mkeras_losses.verify"])
    assert not _startup.running_verify(["python", "train.py"])
    assert not _startup.running_verify(["python", "-m", "pytest", "keras_losses.verify"])
    assert _startup.is_noise("I0000 00:00:1795996905.764436   10230 port.cc:153] oneDNN custom operations are on.")
    assert _startup.is_noise("E0000 00:00:1795997342.507120   15297 util.cc:131] oneDNN supports DT_HALF only")
    assert not _startup.is_noise("E0000 00:00:1795997342.507120   15297 foo.cc:1] out of memory")
    assert not _startup.is_noise("Traceback (most recent call last):")

"""The verification table: printed, and written as Markdown or JSON."""

import dataclasses
import datetime
import json
import math
import platform

import keras

from keras_losses import __version__
from keras_losses import _backend

COLUMNS = ("object", "mode", "device", "dtype", "value abs", "value rel", "grad abs", "grad rel", "refs", "result")


def _number(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1e}"


def _worst(values):
    values = [v for v in values if not math.isnan(v)]
    return max(values) if values else float("nan")


def summarize(rows):
    """One line per (object, mode, device, dtype): the worst error over its references."""
    groups = {}
    for row in rows:
        groups.setdefault((row.case, row.mode, row.device, row.dtype), []).append(row)
    lines = []
    for (case, mode, device, dtype), group in groups.items():
        failed = [r for r in group if not r.passed]
        lines.append(
            {
                "object": case,
                "mode": mode,
                "device": device,
                "dtype": dtype,
                "value abs": _worst([r.value_abs for r in group]),
                "value rel": _worst([r.value_rel for r in group]),
                "grad abs": _worst([r.grad_abs for r in group]),
                "grad rel": _worst([r.grad_rel for r in group]),
                "refs": len(group),
                "result": "FAIL: " + "; ".join(f"{r.reference} {r.note}".strip() for r in failed)
                if failed
                else "pass",
            }
        )
    return lines


def _cells(line):
    return [
        _number(line[c]) if c in ("value abs", "value rel", "grad abs", "grad rel") else str(line[c])
        for c in COLUMNS
    ]


def text_table(rows):
    lines = summarize(rows)
    cells = [list(COLUMNS)] + [_cells(line) for line in lines]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS) - 1)]
    out = []
    for row in cells:
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(out)


def environment():
    backend = _backend.name()
    versions = {"keras_losses": __version__, "keras": keras.__version__, "python": platform.python_version()}
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            versions["tensorflow"] = tf.__version__
        elif backend == "jax":
            import jax

            versions["jax"] = jax.__version__
            versions["jax devices"] = ", ".join(str(d) for d in jax.devices())
        elif backend == "torch":
            import torch

            versions["torch"] = torch.__version__
            if torch.cuda.is_available():
                versions["cuda device"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return {
        "backend": backend,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {platform.system()}, {platform.processor() or 'cpu'}",
        **versions,
    }


def markdown(rows, command):
    env = environment()
    passed = sum(r.passed for r in rows)
    out = [
        "# keras_losses verification report",
        "",
        f"Command: `{command}`",
        "",
        *[f"- {k}: {v}" for k, v in env.items()],
        "",
        f"**{passed} of {len(rows)} comparisons passed.**",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for line in summarize(rows):
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(line)) + " |")
    out += [
        "",
        "## Every comparison",
        "",
        "| object | reference | mode | device | dtype | value rel | grad rel | passed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r.case} | {r.reference} | {r.mode} | {r.device} | {r.dtype} | "
            f"{_number(r.value_rel)} | {_number(r.grad_rel)} | {'yes' if r.passed else 'NO ' + r.note} |"
        )
    return "\n".join(out) + "\n"


def as_json(rows, command):
    def clean(value):
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return json.dumps(
        {
            "command": command,
            "environment": environment(),
            "passed": sum(r.passed for r in rows),
            "total": len(rows),
            "rows": [{k: clean(v) for k, v in dataclasses.asdict(r).items()} for r in rows],
        },
        indent=1,
    )

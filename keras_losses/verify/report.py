"""The verification table: printed, and written as Markdown or JSON."""

import dataclasses
import datetime
import json
import math
import platform
import textwrap

import keras

from keras_losses import __version__
from keras_losses import _backend

COLUMNS = ("object", "mode", "device", "dtype", "value abs", "value rel", "grad abs", "grad rel", "refs", "result")

# Printed lines stay narrower than this (a terminal, a CI log).
WIDTH = 119


def _number(x):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1e}"


def _worst(values):
    values = [v for v in values if not math.isnan(v)]
    return max(values) if values else float("nan")


def _wrap(text, indent="", first=""):
    """`first + text` wrapped to `WIDTH`, continuation lines indented by `indent`."""
    return textwrap.fill(
        text, WIDTH, initial_indent=first, subsequent_indent=indent,
        break_long_words=True, break_on_hyphens=False,
    )


def failed(rows):
    """The rows that compared and did not match (skipped rows are not failures)."""
    return [r for r in rows if not r.passed and not r.skipped]


def skipped(rows):
    """{library: sorted reference names} of the references that were not run."""
    found = {}
    for r in rows:
        if r.skipped:
            library = r.note.removeprefix("skipped: ").removesuffix(" is not installed")
            found.setdefault(library, set()).add(r.reference)
    return {library: sorted(names) for library, names in sorted(found.items())}


def summarize(rows):
    """One line per (object, mode, device, dtype): the worst error over its references."""
    groups = {}
    for row in rows:
        groups.setdefault((row.case, row.mode, row.device, row.dtype), []).append(row)
    lines = []
    for (case, mode, device, dtype), group in groups.items():
        ran = [r for r in group if not r.skipped]
        bad = failed(group)
        result = "FAIL: " + "; ".join(f"{r.reference} {r.note}".strip() for r in bad) if bad else "pass"
        if len(ran) < len(group):
            result += f" ({len(group) - len(ran)} skipped: " + "; ".join(
                f"{r.reference}, {r.note.removeprefix('skipped: ')}" for r in group if r.skipped) + ")"
        lines.append(
            {
                "object": case,
                "mode": mode,
                "device": device,
                "dtype": dtype,
                "value abs": _worst([r.value_abs for r in ran]),
                "value rel": _worst([r.value_rel for r in ran]),
                "grad abs": _worst([r.grad_abs for r in ran]),
                "grad rel": _worst([r.grad_rel for r in ran]),
                "refs": len(ran),
                "result": result if ran else result.replace("pass (", "not compared (", 1),
            }
        )
    return lines


def _cells(line):
    return [
        _number(line[c]) if c in ("value abs", "value rel", "grad abs", "grad rel") else str(line[c])
        for c in COLUMNS
    ]


def object_line(case, rows, index=None, total=None):
    """One line for an object: pass/FAIL, the worst relative errors, what ran."""
    ran = [r for r in rows if not r.skipped]
    status = "FAIL" if failed(rows) else ("pass" if ran else "skip")
    counter = f"[{index:{len(str(total))}d}/{total}] " if index is not None else ""
    stats = (
        f"{status}  value {_number(_worst([r.value_rel for r in ran])):>7}  "
        f"grad {_number(_worst([r.grad_rel for r in ran])):>7}  "
    )
    detail = f"{len(ran)} comparisons"
    if len(ran) < len(rows):
        libraries = ", ".join(skipped(rows))
        detail += f"; {len(rows) - len(ran)} skipped, {libraries} not installed"
    first = counter + stats
    return _wrap(f"{case}  ({detail})", indent=" " * len(first), first=first)


def failure_lines(rows):
    """Every failed comparison of `rows`, in full, one wrapped line each."""
    out = []
    for r in failed(rows):
        text = (
            f"{r.mode}, {r.device}, {r.dtype}, against {r.reference}: value rel "
            f"{_number(r.value_rel)}, grad rel {_number(r.grad_rel)}; {r.note or 'mismatch'}"
        )
        out.append(_wrap(text, indent="          ", first="    FAIL  "))
    return out


def text_table(rows):
    """The full table, one block per object, every line narrower than `WIDTH`."""
    header = ["mode", "device", "dtype", "value abs", "value rel", "grad abs", "grad rel", "refs"]
    lines = summarize(rows)
    cells = [header] + [_cells(line)[1:-1] for line in lines]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def fmt(row):
        return "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  "

    out, current = [], None
    for line in lines:
        if line["object"] != current:
            current = line["object"]
            out.append(_wrap(current))
            out.append(fmt(header) + "result")
        first = fmt(_cells(line)[1:-1])
        out.append(_wrap(line["result"], indent=" " * len(first), first=first))
    return "\n".join(out)


def summary_lines(rows, seconds):
    """What a run found, in a few lines: passed, failed, skipped and why."""
    ran = [r for r in rows if not r.skipped]
    out = [f"{len(ran) - len(failed(rows))} of {len(ran)} comparisons passed in {seconds:.0f} s."]
    for library, names in skipped(rows).items():
        count = sum(r.skipped and r.reference in names for r in rows)
        out.append(_wrap(
            f"{count} comparisons skipped: {library} is not installed, so these references did not "
            f"run: {', '.join(names)}. Install {library} to include them."
        ))
    return out


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
    ran = [r for r in rows if not r.skipped]
    passed = sum(r.passed for r in ran)
    out = [
        "# keras_losses verification report",
        "",
        f"Command: `{command}`",
        "",
        *[f"- {k}: {v}" for k, v in env.items()],
        "",
        f"**{passed} of {len(ran)} comparisons passed.**",
        "",
        *[f"**Skipped, {library} is not installed:** {', '.join(names)}.\n" for library, names in skipped(rows).items()],
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
            f"{_number(r.value_rel)} | {_number(r.grad_rel)} | {_result(r)} |"
        )
    return "\n".join(out) + "\n"


def _result(row):
    if row.skipped:
        return row.note
    return "yes" if row.passed else "NO " + row.note


def as_json(rows, command):
    def clean(value):
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return json.dumps(
        {
            "command": command,
            "environment": environment(),
            "passed": sum(r.passed for r in rows),
            "total": sum(not r.skipped for r in rows),
            "skipped": sum(r.skipped for r in rows),
            "rows": [{k: clean(v) for k, v in dataclasses.asdict(r).items()} for r in rows],
        },
        indent=1,
    )

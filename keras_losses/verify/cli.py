"""The command line of `python -m keras_losses.verify`."""

import argparse
import os
import sys
import time


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m keras_losses.verify",
        description=(
            "Check every loss and regularizer of keras_losses against its references "
            "(NumPy formulas and the Keras/TensorFlow/PyTorch built-ins), values and "
            "gradients, in every execution mode of the active Keras backend "
            "(KERAS_BACKEND), on every visible device, with float32, float16 and "
            "bfloat16 inputs. Exits 1 on any mismatch."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="a short subset: the main cases, float32 and float16")
    parser.add_argument("--report", metavar="FILE", help="also write the table to FILE (.md or .json)")
    parser.add_argument("--only", metavar="TEXT", help="only the objects whose name contains TEXT")
    parser.add_argument(
        "--verbose", action="store_true",
        help="also print the full table: every mode, device and dtype of every object "
        "(failures are always printed in full)",
    )
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.report and not args.report.endswith((".md", ".json")):
        _parser().error("--report FILE must end in .md or .json")
    start = time.perf_counter()

    from keras_losses.testing import backends
    from keras_losses.verify import cases as case_registry
    from keras_losses.verify import report
    from keras_losses.verify import runner

    cases = case_registry.CASES
    dtypes = backends.DTYPES
    if args.quick:
        cases = [c for c in cases if c.quick]
        dtypes = ("float32", "float16")
    if args.only:
        cases = [c for c in cases if args.only.lower() in c.name.lower()]
    if not cases:
        print("No verification case matches.", file=sys.stderr)
        return 2

    env = report.environment()
    header = (
        f"keras_losses {env['keras_losses']} on keras {env['keras']}, backend {env['backend']}; "
        f"modes {', '.join(backends.modes())}; devices {', '.join(backends.devices())}; "
        f"dtypes {', '.join(dtypes)}; {len(cases)} objects. One line per object as it is checked "
        "(worst relative error of values and gradients against its references):"
    )
    print(report._wrap(header), flush=True)

    def progress(case, rows):
        index = cases.index(case) + 1
        print(report.object_line(case.name, rows, index, len(cases)), flush=True)
        for line in report.failure_lines(rows):
            print(line, flush=True)

    rows = runner.run_all(cases, dtypes=dtypes, progress=progress)
    if args.verbose:
        print("\nEvery mode, device and dtype:\n" + report.text_table(rows))
    failed = report.failed(rows)
    seconds = time.perf_counter() - start
    print()
    for line in report.summary_lines(rows, seconds):
        print(line)
    if args.report:
        command = "python -m keras_losses.verify " + " ".join(argv if argv is not None else sys.argv[1:])
        command = f"KERAS_BACKEND={env['backend']} " + command.strip()
        text = report.as_json(rows, command) if args.report.endswith(".json") else report.markdown(rows, command)
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        with open(args.report, "w") as f:
            f.write(text)
        print(f"Report written to {args.report}.")
    if failed:
        print(f"{len(failed)} comparisons FAILED (listed in full above).", file=sys.stderr)
        return 1
    return 0

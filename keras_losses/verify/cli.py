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
    print(
        f"keras_losses {env['keras_losses']} on keras {env['keras']}, backend {env['backend']}; "
        f"modes {', '.join(backends.modes())}; devices {', '.join(backends.devices())}; "
        f"dtypes {', '.join(dtypes)}; {len(cases)} objects",
        flush=True,
    )
    rows = runner.run_all(cases, dtypes=dtypes)
    print(report.text_table(rows))
    failed = [r for r in rows if not r.passed]
    seconds = time.perf_counter() - start
    print(f"\n{len(rows) - len(failed)} of {len(rows)} comparisons passed in {seconds:.0f} s.")
    if args.report:
        command = "python -m keras_losses.verify " + " ".join(argv if argv is not None else sys.argv[1:])
        command = f"KERAS_BACKEND={env['backend']} " + command.strip()
        text = report.as_json(rows, command) if args.report.endswith(".json") else report.markdown(rows, command)
        os.makedirs(os.path.dirname(os.path.abspath(args.report)), exist_ok=True)
        with open(args.report, "w") as f:
            f.write(text)
        print(f"Report written to {args.report}.")
    if failed:
        print(f"{len(failed)} comparisons FAILED.", file=sys.stderr)
        return 1
    return 0

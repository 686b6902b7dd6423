"""Command line: ``advcourse classify IMG`` and ``advcourse attack IMG --attack pgd --eps 4/255``.

Bad arguments print one line starting with ``advcourse: error:`` and exit with status 2;
no traceback is ever shown for a user mistake.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from typing import Sequence

__all__ = ["main", "parse_number"]


def parse_number(text: str) -> float:
    """``"8/255"`` -> 0.03137..., ``"0.1"`` -> 0.1. Raises ``argparse.ArgumentTypeError`` otherwise."""
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number or a fraction like 8/255, got {text!r}") from None


def _nonneg(text: str) -> float:
    value = parse_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(2, f"advcourse: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    from advcourse.models import available_models

    parser = _Parser(prog="advcourse", description="Classify and attack images with the advcourse models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument("image", help="file path, http(s) URL, data: URI or shipped sample name")
    common.add_argument("--model", default=available_models()[0], help="model name (default: %(default)s)")
    common.add_argument("--device", default="auto", help="auto, cpu or cuda (default: %(default)s)")

    p = sub.add_parser("classify", parents=[common], help="print the top-k classes of an image")
    p.add_argument("--topk", type=int, default=5, help="how many classes (default: %(default)s)")

    a = sub.add_parser("attack", parents=[common], help="attack an image and save the three-panel figure")
    a.add_argument("--attack", default="fgsm", help="noise, semantic, fgsm, pgd or deepfool (default: %(default)s)")
    a.add_argument("--eps", type=_nonneg, help="budget in [0,1] pixel units; fractions allowed (8/255)")
    a.add_argument("--step-size", type=_nonneg, help="pgd step size; fractions allowed")
    a.add_argument("--steps", type=int, help="pgd iterations")
    a.add_argument("--target", help="target class name or index for a targeted attack")
    a.add_argument("--out", default="attack.png", help="figure file (default: %(default)s)")

    sub.add_parser("samples", help="list the shipped sample photos")
    sub.add_parser("doctor", help="check the installation (versions, device, model, widgets)")
    return parser


def _cmd_classify(args: argparse.Namespace) -> None:
    from advcourse.one_call import classify

    print(classify(args.image, model=args.model, topk=args.topk, device=args.device))


def _cmd_attack(args: argparse.Namespace) -> None:
    from advcourse.one_call import attack

    if args.steps is not None and args.steps < 0:
        raise ValueError(f"--steps: must be >= 0, got {args.steps}")
    params = {k: v for k, v in {"eps": args.eps, "step_size": args.step_size, "steps": args.steps}.items()
              if v is not None}
    target = int(args.target) if args.target is not None and args.target.isdigit() else args.target
    result = attack(args.image, args.attack, model=args.model, target=target, device=args.device, **params)
    result.save(args.out)
    print(result)
    print(f"figure written to {args.out}")


def _cmd_samples(args: argparse.Namespace) -> None:
    from advcourse.images import sample_info, samples

    for name in samples():
        info = sample_info(name)
        print(f"{name:<22} {info['label']} ({info['index']})")


def _cmd_doctor(args: argparse.Namespace) -> None:
    from advcourse.doctor import report

    print(report())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``advcourse`` console script; returns the exit status."""
    args = _build_parser().parse_args(argv)
    command = {"classify": _cmd_classify, "attack": _cmd_attack, "samples": _cmd_samples, "doctor": _cmd_doctor}
    try:
        command[args.command](args)
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        print(f"advcourse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

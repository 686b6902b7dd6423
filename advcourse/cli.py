"""Command line: ``advcourse classify IMG`` and ``advcourse attack IMG --attack pgd --eps 4/255``.

Bad arguments print one line starting with ``advcourse: error:`` and exit with status 2; no
traceback is ever shown, whatever the input. Everything that can be checked without PyTorch (the
numbers, names, the output path) is checked before PyTorch is imported, so ``--help`` and argument
errors answer at once; a run with a mistake in it fails before any work is done.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from fractions import Fraction
from typing import Sequence

from advcourse.models.catalog import ATTACK_NAMES, EMBEDDED_MODEL, MODEL_NAMES, samples, suggest_sample

__all__ = ["main", "parse_number"]

#: The most steps a command-line PGD may take (each costs a forward and backward pass).
MAX_STEPS = 1000

#: Which of the attack options each attack takes (the others are refused, not silently dropped).
_OPTIONS = {
    "noise": {"eps", "seed"},
    "semantic": set(),
    "fgsm": {"eps", "target"},
    "pgd": {"eps", "step_size", "steps", "target", "seed"},
    "deepfool": set(),
    "mifgsm": {"eps", "step_size", "steps", "target", "seed"},
    "square": {"eps", "target", "seed"},
    "simba": {"eps", "target", "seed"},
    "hopskipjump": {"seed"},
    "apgd": {"eps", "steps", "target", "seed"},
    "cw": {"steps", "target"},
}


def parse_number(text: str) -> float:
    """``"8/255"`` -> 0.03137..., ``"0.1"`` -> 0.1. Raises ``argparse.ArgumentTypeError`` otherwise."""
    try:
        value = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number or a fraction like 8/255, got {text!r}") from None
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _budget(text: str) -> float:
    """An L∞ budget in [0, 1] pixel units; ``8`` is refused with a pointer to ``8/255``."""
    value = parse_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} is larger than the whole pixel range [0, 1] (budgets are in pixel "
                                         f"units); did you mean {text}/255?")
    return value


def _positive(text: str) -> float:
    """A number > 0 (fractions allowed): a challenge's budget, which in L2 may exceed 1."""
    value = parse_number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _fraction(text: str) -> float:
    """A number in [0, 1]: an accuracy floor."""
    value = parse_number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1] such as 0.9, got {text}")
    return value


def _bounded_int(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number in [{low}, {high}], got {value}")
        return value

    return parse


def _device(text: str) -> str:
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text.strip()):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")
    return text.strip()


def _name(choices: Sequence[str], what: str):
    def parse(text: str) -> str:
        key = text.strip().lower().replace("-", "_")
        if key not in choices:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r}; choose one of {', '.join(choices)}")
        return key

    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(2, f"advcourse: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="advcourse", description="Classify and attack images with the advcourse models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    common = _Parser(add_help=False)
    common.add_argument("image", help="file path, http(s) URL, data: URI or shipped sample name")
    common.add_argument("--model", default=EMBEDDED_MODEL, type=_name(MODEL_NAMES, "model"),
                        help="model name (default: %(default)s)")
    common.add_argument("--device", default="auto", type=_device, help="auto, cpu or cuda (default: %(default)s)")

    p = sub.add_parser("classify", parents=[common], help="print the top-k classes of an image")
    p.add_argument("--topk", type=_bounded_int(1, 1000), default=5, help="how many classes (default: %(default)s)")

    a = sub.add_parser("attack", parents=[common], help="attack an image and save the three-panel figure")
    a.add_argument("--attack", default="fgsm", type=_name(ATTACK_NAMES, "attack"),
                   help="noise, semantic, fgsm, pgd or deepfool (default: %(default)s)")
    a.add_argument("--eps", type=_budget, help="L∞ budget in [0,1] pixel units; fractions allowed (8/255)")
    a.add_argument("--step-size", type=_budget, help="pgd step size; fractions allowed")
    a.add_argument("--steps", type=_bounded_int(0, MAX_STEPS), help=f"pgd iterations (at most {MAX_STEPS})")
    a.add_argument("--target", help="target class name or index for a targeted attack (fgsm, pgd)")
    a.add_argument("--seed", type=_bounded_int(0, 2**63 - 1), default=0,
                   help="seed of the random start (pgd) or the noise (noise); the same seed gives the same "
                        "result (default: %(default)s)")
    a.add_argument("--out", default="attack.png", help="figure file: .png, .pdf, .svg, ... (default: %(default)s)")

    sub.add_parser("samples", help="list the shipped sample photos")
    sub.add_parser("doctor", help="check the installation (versions, device, model, widgets)")

    c = sub.add_parser("challenge", help="run a workshop challenge: init a folder, add teams, serve it")
    csub = c.add_subparsers(dest="action", required=True, parser_class=_Parser)
    ci = csub.add_parser("init", help="create a challenge folder (prints the hidden model's SHA-256)")
    ci.add_argument("dir", help="a new or empty folder")
    ci.add_argument("--model", default="adversarial", choices=["adversarial", "clean"],
                    help="the hidden digits model (default: %(default)s, 08's adversarially trained CNN)")
    ci.add_argument("--eps", type=_positive, default=0.15,
                    help="the budget in [0,1] pixel units, L∞ or L2 (default: %(default)s)")
    ci.add_argument("--norm", default="linf", choices=["linf", "l2"], help="(default: %(default)s)")
    ci.add_argument("--inputs", type=_bounded_int(1, 449), default=100, help="test digits to attack (default: %(default)s)")
    ci.add_argument("--queries", type=_bounded_int(0, 10**9), default=1000,
                    help="each team's black-box query budget, 0 for none (default: %(default)s)")
    ci.add_argument("--white-box", action="store_true", help="publish the weights from the start")
    ci.add_argument("--defence-floor", type=_fraction, default=0.9,
                    help="defence track: the clean accuracy a team's model must reach (default: %(default)s)")
    ci.add_argument("--defence-seconds", type=_positive, default=120.0,
                    help="defence track: the most seconds one defence's scoring may take (default: %(default)s)")
    ct = csub.add_parser("team", help="add a team; its join code (the token) is printed on the last line")
    ct.add_argument("dir")
    ct.add_argument("name")
    ct.add_argument("--url", help="the address learners will use (http://192.168.1.10:8000): also print the "
                    "team page's link and a QR code of it")
    ca = csub.add_parser("admin", help="open or close the round, reveal the weights, reset, or export the "
                         "submissions as CSV (applies to a running server at once)")
    ca.add_argument("dir")
    ca.add_argument("action_name", metavar="action", choices=["open", "close", "reveal", "reset", "export"])
    cs = csub.add_parser("serve", help="serve the challenge until stopped (Ctrl-C)")
    cs.add_argument("dir")
    cs.add_argument("--port", type=_bounded_int(1, 65535), default=8000, help="(default: %(default)s)")
    cs.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default: %(default)s, this laptop only; 0.0.0.0 for the room)")
    return parser


# ----------------------------------------------------------------------------- checks before any work
def _check_image(src: str) -> None:
    """A source that can only be a sample name must be one (with a suggestion); no torch needed."""
    text = src.strip()
    if re.match(r"[A-Za-z][A-Za-z0-9+.\-]+:", text) or os.path.exists(os.path.expanduser(text)):
        return  # a URL, data: URI or existing path: the loader reports on those
    if text in samples():
        return
    if os.path.splitext(text)[1] or os.sep in text:
        raise ValueError(f"image: {src}: no such file")
    guess = suggest_sample(text)
    hint = f"; did you mean {guess!r}?" if guess else f"; choose from {', '.join(samples())}"
    raise ValueError(f"image: {src!r} is neither a file nor a shipped sample{hint}")


def _check_out(out: str) -> None:
    """The figure can be written: not a folder, an extension matplotlib writes, an existing folder."""
    from advcourse.core.files import check_figure_path

    check_figure_path(out, "--out")


def _check_attack_options(args: argparse.Namespace) -> None:
    given = {k for k in ("eps", "step_size", "steps", "target") if getattr(args, k) is not None}
    refused = given - _OPTIONS[args.attack]
    if refused:
        option = "--" + sorted(refused)[0].replace("_", "-")
        raise ValueError(f"{option}: the {args.attack} attack does not take this option")
    target = args.target
    if target is not None and target.strip().isdigit() and int(target) > 999:
        raise ValueError(f"--target: expected a class index in [0, 999] or a class name, got {target}")


# ----------------------------------------------------------------------------- commands
def _cmd_classify(args: argparse.Namespace) -> None:
    from advcourse.one_call import classify

    print(classify(args.image, model=args.model, topk=args.topk, device=args.device))


def _cmd_attack(args: argparse.Namespace) -> None:
    import torch

    from advcourse.one_call import attack

    params = {k: v for k, v in {"eps": args.eps, "step_size": args.step_size, "steps": args.steps}.items()
              if v is not None}
    if "seed" in _OPTIONS[args.attack]:
        params["generator"] = torch.Generator().manual_seed(args.seed)
    target = int(args.target) if args.target is not None and args.target.strip().isdigit() else args.target
    result = attack(args.image, args.attack, model=args.model, target=target, device=args.device, **params)
    result.save(args.out)
    print(result)
    print(f"figure written to {args.out}")


def _cmd_samples(args: argparse.Namespace) -> None:
    from advcourse.models.catalog import sample_info

    for name in samples():
        info = sample_info(name)
        print(f"{name:<22} {info['label']} ({info['index']})")


def _cmd_doctor(args: argparse.Namespace) -> None:
    from advcourse.doctor import report

    print(report())


def _prepare(args: argparse.Namespace) -> None:
    """Every check that needs no model, run before the command does any work."""
    if args.command in ("classify", "attack"):
        _check_image(args.image)
    if args.command == "attack":
        _check_attack_options(args)
        _check_out(args.out)


def _print_qr(text: str) -> None:
    """``text`` as a QR code of block characters, drawn for a dark terminal: its light squares are the blocks."""
    import qrcode

    code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.print_ascii(out=sys.stdout, invert=True)


def _cmd_challenge(args: argparse.Namespace) -> None:
    from advcourse import challenge

    if args.action == "init":
        sha = challenge.init_challenge(args.dir, model=args.model, eps=args.eps, norm=args.norm, n_inputs=args.inputs,
                                       queries=args.queries, white_box=args.white_box,
                                       defence_floor=args.defence_floor, defence_seconds=args.defence_seconds)
        print(f"challenge created in {args.dir} ({args.model} digits model, {args.norm} eps {args.eps:g}, "
              f"{args.inputs} inputs); instructor token in {args.dir}/admin_token")
        print(f"hidden model SHA-256: {sha}")
    elif args.action == "team":
        if args.url is not None:
            from advcourse.challenge.client import check_server

            check_server(args.url, "-")  # a bad address is refused before the team is added
        token = challenge.add_team(args.dir, args.name)
        print(f"team {args.name.strip()!r} added")
        if args.url is not None:
            link = f"{args.url.rstrip('/')}/team#{token}"
            print(f"team page (scan the code, or type the link): {link}")
            _print_qr(link)
        print("join code (the team's token; shown once, stored hashed):")
        print(token)
    elif args.action == "admin":
        from advcourse.challenge.folder import load_challenge

        store = load_challenge(args.dir).store
        if args.action_name == "export":
            sys.stdout.write(store.export_csv())
        else:
            state = store.admin(args.action_name)
            print(f"round {state['round']}; weights {'published' if state['revealed'] else 'hidden'}")
    else:
        import uvicorn

        from advcourse.challenge.folder import load_challenge
        from advcourse.challenge.server import create_app

        loaded = load_challenge(args.dir)
        print(f"serving {args.dir} on http://{args.host}:{args.port}  (hidden model SHA-256: {loaded.sha256})")
        uvicorn.run(create_app(loaded), host=args.host, port=args.port, log_level="warning")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``advcourse`` console script; returns the exit status."""
    args = _build_parser().parse_args(argv)
    command = {"classify": _cmd_classify, "attack": _cmd_attack, "samples": _cmd_samples, "doctor": _cmd_doctor,
               "challenge": _cmd_challenge}
    try:
        _prepare(args)
        command[args.command](args)
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        print(f"advcourse: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # never a traceback: one line, and a status that says "not your mistake"
        print(f"advcourse: error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

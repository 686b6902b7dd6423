"""Time the course's backdoor detectors against ART 1.20.1's on the same poisoned digits and model.

Not a test: run it by hand and read the ratios (all measured in this one run)::

    .venv/bin/python benchmarks/poisoning.py               # writes benchmarks/results/poisoning-<date>.{json,md}
    .venv/bin/python benchmarks/poisoning.py --repeats 9 --threads 1

The data: a 5 % BadNets backdoor into class 0 of the 1348 training digits (``advcourse.poisoning.backdoor``),
the course's digits recipe trained on it (``defences.digits.fit_digits_cnn``). Both sides read the same
representation, the input of the network's last linear layer (ART is handed the network up to there).

- Spectral signatures: ART ``SpectralSignatureDefense(expected_pp_poison, eps_multiplier=1.5)`` against
  ``flag_top(spectral_signatures(...), y, 1.5 · share)``.
- Activation clustering: ART ``ActivationDefence.detect_poison(nb_clusters=2, nb_dims=10, reduce="PCA",
  cluster_analysis="smaller")`` against ``activation_clustering(..., max_fraction=0.5)`` (the same rule:
  flag the smaller of two clusters in every class).
- STRIP: ART ``STRIP(num_samples=20)`` — ``mitigate`` on the 200 clean digits the defender holds, then
  ``predict`` on the other 249 test digits and their triggered copies (an abstention is a flag) —
  against ``strip(...)`` with 20 blends, thresholded at the 1 % quantile of the same clean digits'
  entropies (ART's default false-acceptance rate). Detection here is over the test inputs: the
  triggered ones are the positives.

Reported per detector: median wall time of each over ``--repeats`` interleaved rounds, the ratio ours / ART,
and both detectors' TPR / FPR over the poisons.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from attacks import interleaved, machine, save_results  # noqa: E402

from advcourse.defences.digits import fit_digits_cnn  # noqa: E402
from advcourse.models.datasets import load_digits  # noqa: E402
from advcourse.poisoning import (activation_clustering, add_trigger, backdoor, badnets_trigger,  # noqa: E402
                                 detection, flag_top, spectral_signatures, strip)


def art_classifier(net: nn.Module, whole: bool = False):
    """ART's view of ``net``: the network up to the input of its last linear layer (the representation),
    or the ``whole`` network."""
    from art.estimators.classification import PyTorchClassifier

    body = net if whole else nn.Sequential(net.features, *list(net.classifier)[:-1])
    return PyTorchClassifier(body, loss=nn.CrossEntropyLoss(), input_shape=(1, 8, 8), nb_classes=10,
                             clip_values=(0.0, 1.0), device_type="cpu")


def main(argv: list[str] | None = None) -> dict:
    from art.defences.detector.poison import ActivationDefence, SpectralSignatureDefense
    from art.defences.transformer.poisoning import STRIP

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    digits = load_digits()
    poisoned = backdoor(digits.x_train, digits.y_train, target=0, rate=0.05, trigger=badnets_trigger(),
                        generator=torch.Generator().manual_seed(0))
    net = fit_digits_cnn(poisoned.x, poisoned.y)
    x_np, y_np = poisoned.x.numpy(), np.eye(10)[poisoned.y.numpy()]
    share = len(poisoned.indices) / int((poisoned.y == 0).sum())
    classifier = art_classifier(net)
    flags: dict[str, torch.Tensor] = {}
    x_clean, x_test, y_test = digits.x_test[:200], digits.x_test[200:], digits.y_test[200:]
    x_screen = torch.cat([add_trigger(x_test[y_test != 0], poisoned.trigger), x_test])  # triggered first
    truth = {"ss": poisoned.is_poison, "ac": poisoned.is_poison,
             "strip": torch.arange(len(x_screen)) < int((y_test != 0).sum())}

    def ours_strip() -> torch.Tensor:
        g = torch.Generator().manual_seed(0)
        threshold = strip(net, x_clean, x_clean, generator=g).quantile(0.01)
        return strip(net, x_screen, x_clean, generator=g) < threshold

    def art_strip() -> torch.Tensor:
        np.random.seed(0)
        # a fresh classifier each time: STRIP mixes itself into the classifier's class
        screen = STRIP(art_classifier(nn.Sequential(net, nn.Softmax(1)), whole=True))(num_samples=20)
        screen.mitigate(x_clean.numpy())
        return torch.tensor(screen.predict(x_screen.numpy()).sum(1) == 0)

    def keep(name: str, value: torch.Tensor) -> None:
        flags[name] = value

    contenders = {
        "spectral signatures": {
            "ours": lambda: keep("ss ours", flag_top(spectral_signatures(net, poisoned.x, poisoned.y), poisoned.y,
                                                      1.5 * share)),
            "ART": lambda: keep("ss ART", torch.tensor(SpectralSignatureDefense(
                classifier, x_np, y_np, expected_pp_poison=share, eps_multiplier=1.5).detect_poison()[1]) == 0),
        },
        "activation clustering": {
            "ours": lambda: keep("ac ours", activation_clustering(net, poisoned.x, poisoned.y, max_fraction=0.5)),
            "ART": lambda: keep("ac ART", torch.tensor(ActivationDefence(classifier, x_np, y_np).detect_poison(
                nb_clusters=2, nb_dims=10, reduce="PCA", cluster_analysis="smaller")[1]) == 0),
        },
        "STRIP": {"ours": lambda: keep("strip ours", ours_strip()), "ART": lambda: keep("strip ART", art_strip())},
    }
    res: dict = {"machine": machine(), "repeats": args.repeats, "poisons": len(poisoned.indices), "rows": []}
    lines = [f"Backdoor detectors, ours vs ART 1.20.1: 5 % BadNets into class 0 of {len(poisoned.y)} digits, "
             f"median of {args.repeats} interleaved rounds, {torch.get_num_threads()} thread(s)", "",
             "| detector | ours | ART | ratio | TPR / FPR ours | TPR / FPR ART |", "|---|---:|---:|---:|---|---|"]
    for name, pair in contenders.items():
        seconds = interleaved(pair, args.repeats)
        key = {"spectral signatures": "ss", "activation clustering": "ac", "STRIP": "strip"}[name]
        ours, theirs = (detection(flags[f"{key} {who}"], truth[key]) for who in ("ours", "ART"))
        row = {"detector": name, "ours_seconds": seconds["ours"], "art_seconds": seconds["ART"],
               "ratio": seconds["ours"] / seconds["ART"], "ours": vars(ours) | {"tpr": ours.tpr, "fpr": ours.fpr},
               "art": vars(theirs) | {"tpr": theirs.tpr, "fpr": theirs.fpr}}
        res["rows"].append(row)
        lines.append(f"| {name} | {seconds['ours']:.3f} s | {seconds['ART']:.3f} s | {row['ratio']:.2f}× | "
                     f"{ours.tpr:.2f} / {ours.fpr:.3f} | {theirs.tpr:.2f} / {theirs.fpr:.3f} |")
    save_results(res, "poisoning", "\n".join(lines) + "\n")
    return res


if __name__ == "__main__":
    main()

"""The challenge folder: the hidden model, the clean inputs, the budget, the database and the admin token.

``init_challenge`` writes everything the server needs into one folder, so a challenge is copied,
backed up or published by copying that folder. The model's weights are stored as safetensors (never
pickle) and committed by their SHA-256, printed at creation: publishing the weights after the round
lets anyone check that the scores came from that model.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advcourse.challenge.store import Store
from advcourse.core import checks
from advcourse.core.formatting import rounded_repr

__all__ = ["MODELS", "NORMS", "init_challenge", "add_team", "Challenge", "load_challenge"]

#: The models a challenge can hide: the course's digits CNN, and 08's adversarially trained copy.
MODELS = ("adversarial", "clean")
NORMS = ("linf", "l2")
_FILES = {"config": "config.json", "model": "model.safetensors", "inputs": "inputs.npy", "db": "challenge.db",
          "admin": "admin_token"}


def _model(name: str) -> torch.nn.Module:
    """The course's recipe with a secret seed: the course's own digits model is public (anyone can rebuild
    it from the package), so the hidden one must be a fresh draw of the same recipe."""
    from advcourse.defences.digits import adversarial_digits_cnn, clean_digits_cnn

    clean = clean_digits_cnn(seed=secrets.randbelow(2**31))
    return adversarial_digits_cnn(clean, seed=secrets.randbelow(2**31)) if name == "adversarial" else clean


def init_challenge(directory: str | Path, *, model: str = "adversarial", eps: float = 0.15, norm: str = "linf",
                   n_inputs: int = 100, seed: int = 0, queries: int = 1000, white_box: bool = False,
                   defence_floor: float = 0.9, defence_seconds: float = 120.0) -> str:
    """Create a challenge in the new or empty folder ``directory``; returns the hidden model's SHA-256.

    Args:
        model: one of :data:`MODELS`. eps: the budget in pixel units ([0, 1] pixels), > 0.
        norm: "linf" or "l2". n_inputs: how many test digits to attack (1 to 449), drawn with ``seed``
            among those the model classifies right.
        queries: each team's budget of black-box queries (``POST /api/query``; 0 turns the endpoint off).
        white_box: publish the weights from the start (``GET /api/model.safetensors``); otherwise only
            after the instructor reveals them.
        defence_floor: the defence track's clean-accuracy floor in [0, 1] on the challenge's digits.
        defence_seconds: the most CPU time one defence's scoring may take (> 0), in a worker process.
    """
    from safetensors.torch import save_file

    from advcourse.models.datasets import load_digits

    if model not in MODELS:
        raise ValueError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")
    if norm not in NORMS:
        raise ValueError(f"norm: expected linf or l2, got {norm!r}")
    eps = checks.check_positive(eps, "eps")
    n_inputs = checks.check_count(n_inputs, "n_inputs", minimum=1)
    seed = checks.check_count(seed, "seed")
    queries = checks.check_count(queries, "queries")
    checks.check_bool(white_box, "white_box")
    defence_floor = checks.check_nonnegative(defence_floor, "defence_floor")
    if defence_floor > 1:
        raise ValueError(f"defence_floor: expected a fraction in [0, 1] such as 0.9, got {defence_floor:g}")
    defence_seconds = checks.check_positive(defence_seconds, "defence_seconds")
    folder = Path(directory)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(f"directory: expected a new or empty folder, {str(folder)!r} is not")
    digits = load_digits()
    net = _model(model)
    with torch.no_grad():
        right = (net(digits.x_test).argmax(1) == digits.y_test).nonzero().squeeze(1)
    if n_inputs > len(right):
        raise ValueError(f"n_inputs: the model reads {len(right)} test digits right, got {n_inputs}")
    chosen = right[torch.randperm(len(right), generator=torch.Generator().manual_seed(seed))[:n_inputs]].sort().values
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / _FILES["model"]))
    sha = hashlib.sha256((folder / _FILES["model"]).read_bytes()).hexdigest()
    np.save(folder / _FILES["inputs"], digits.x_test[chosen].numpy().astype(np.float32), allow_pickle=False)
    config = {"model": model, "width": 16, "eps": eps, "norm": norm, "labels": digits.y_test[chosen].tolist(),
              "seed": seed, "sha256": sha, "queries": queries, "white_box": white_box,
              "defence_floor": defence_floor, "defence_seconds": defence_seconds}
    (folder / _FILES["config"]).write_text(json.dumps(config, indent=1))
    Store(folder / _FILES["db"])
    admin = folder / _FILES["admin"]
    admin.write_text(secrets.token_urlsafe(24) + "\n")
    admin.chmod(0o600)
    return sha


def add_team(directory: str | Path, name: str) -> str:
    """Register team ``name`` in the challenge at ``directory``; returns its token (shown once, stored hashed)."""
    return load_challenge(directory).store.add_team(name)


@dataclass
class Challenge:
    """A loaded challenge: the hidden model (eval mode), clean inputs (N, 1, 8, 8), labels (N,), the budget."""

    __repr__ = rounded_repr

    folder: Path
    model: torch.nn.Module
    inputs: np.ndarray
    labels: np.ndarray
    eps: float
    norm: str
    sha256: str
    store: Store
    admin_token: str
    queries: int = 1000
    white_box: bool = False
    defence_floor: float = 0.9
    defence_seconds: float = 120.0


def load_challenge(directory: str | Path) -> Challenge:
    """Read the challenge at ``directory``; checks that the model file still has the committed SHA-256."""
    from safetensors.torch import load_file

    from advcourse.models.nets import DigitsCNN

    folder = Path(directory)
    if not (folder / _FILES["config"]).is_file():
        raise ValueError(f"directory: no challenge in {str(folder)!r} (run `advcourse challenge init` first)")
    config = json.loads((folder / _FILES["config"]).read_text())
    weights = (folder / _FILES["model"]).read_bytes()
    if hashlib.sha256(weights).hexdigest() != config["sha256"]:
        raise ValueError(f"directory: {_FILES['model']} no longer matches the SHA-256 committed at creation")
    net = DigitsCNN.from_weights(load_file(str(folder / _FILES["model"])))
    inputs = np.load(folder / _FILES["inputs"], allow_pickle=False)
    return Challenge(folder, net, inputs, np.asarray(config["labels"], dtype=np.int64), float(config["eps"]),
                     config["norm"], config["sha256"], Store(folder / _FILES["db"]),
                     (folder / _FILES["admin"]).read_text().strip(), int(config.get("queries", 1000)),
                     bool(config.get("white_box", False)), float(config.get("defence_floor", 0.9)),
                     float(config.get("defence_seconds", 120.0)))

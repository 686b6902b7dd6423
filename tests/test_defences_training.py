"""Adversarial training (advcourse.defences.training): it works, and it works under DDP."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from advcourse.models.datasets import load_digits, make_loader
from advcourse.defences import History, evaluate, plot_histories, train
from advcourse.models.nets import DigitsCNN

ROOT = Path(__file__).resolve().parents[1]
PGD = {"eps": 0.15, "step_size": 0.05, "steps": 4}


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def clean_model(digits):
    torch.manual_seed(0)
    model = DigitsCNN(width=8)
    train(model, make_loader(digits.x_train, digits.y_train, batch_size=32), epochs=3, lr=3e-3, progress=False)
    return model


def test_clean_training_learns_the_digits(digits, clean_model):
    clean, robust = evaluate(clean_model, digits.x_test, digits.y_test)
    assert clean > 0.85
    assert robust != robust  # no attack: nan


def test_adversarial_fine_tuning_raises_robust_accuracy(digits, clean_model):
    import copy

    model = copy.deepcopy(clean_model)
    torch.manual_seed(1)
    history = train(model, make_loader(digits.x_train, digits.y_train, batch_size=32, seed=1), epochs=3,
                    attack="pgd", attack_params=PGD, adv_fraction=0.5, lr=3e-3, progress=False,
                    eval_data=(digits.x_test, digits.y_test))
    assert history.epoch == [0, 1, 2, 3]
    before, after = history.robust_accuracy[0], history.robust_accuracy[-1]
    assert after > before + 0.15, history
    assert history.clean_accuracy[-1] > history.clean_accuracy[0] - 0.05, history
    # the clean model is untouched; the fine-tuned one changed
    assert any(not torch.equal(p, q) for p, q in zip(model.parameters(), clean_model.parameters()))
    assert "pgd(eps=0.15" in str(history) and "<table>" in history._repr_html_()
    assert plot_histories({"fine-tuning": history}).axes


def test_training_leaves_mode_and_no_stray_grads(digits):
    model = DigitsCNN(width=4).eval()
    train(model, make_loader(digits.x_train[:64], digits.y_train[:64], batch_size=32), epochs=1,
          attack="fgsm", attack_params={"eps": 0.1}, progress=False)
    assert not model.training
    assert all(p.requires_grad for p in model.parameters())


def test_zero_epochs_only_measures(digits):
    model = DigitsCNN(width=4)
    before = [p.clone() for p in model.parameters()]
    h = train(model, make_loader(digits.x_train[:64], digits.y_train[:64]), epochs=0, progress=False,
              eval_data=(digits.x_test[:50], digits.y_test[:50]), eval_attack="fgsm", eval_params={"eps": 0.1})
    assert h.epoch == [0] and all(torch.equal(p, q) for p, q in zip(before, model.parameters()))
    assert isinstance(h, History) and 0 <= h.robust_accuracy[0] <= h.clean_accuracy[0]


def _train_float64_on(seed, digits):
    """Adversarial training in float64 on the emulated machine of nudge ``seed`` (0: this CPU)."""
    import cpu_nudge

    with cpu_nudge.machine(seed):
        torch.manual_seed(0)
        model = DigitsCNN(width=4)
        params = list(model.parameters())
        history = train(model, make_loader(digits.x_train[:256], digits.y_train[:256], batch_size=32, seed=0),
                        epochs=2, lr=3e-3, attack="pgd", attack_params=PGD, progress=False, dtype=torch.float64,
                        eval_data=(digits.x_test, digits.y_test))
    assert list(model.parameters()) == params  # the same tensors, back in their own dtype
    assert all(p.dtype == torch.float32 and p.grad is None or p.grad.dtype == torch.float32 for p in params)
    assert all(b.dtype == torch.float32 for b in model.buffers() if b.is_floating_point())
    return model, history


def test_float64_training_is_the_same_on_every_emulated_cpu(digits):
    """Float32 training turns the nudged machines' last-bit rounding into other weights; float64 does
    not (other kernels can still differ where a gradient is exactly zero on one and tiny on another)."""
    runs = [_train_float64_on(seed, digits) for seed in (0, 1, 2)]
    (base, h0), *others = runs
    for model, h in others:
        assert h.clean_accuracy == h0.clean_accuracy and h.robust_accuracy == h0.robust_accuracy
        for p, q in zip(base.parameters(), model.parameters()):
            assert torch.allclose(p, q, rtol=1e-6, atol=1e-9)  # equal up to rounding to float32


@pytest.mark.parametrize("kwargs, match", [
    ({"adv_fraction": 1.5}, "adv_fraction"),
    ({"adv_fraction": -0.1}, "adv_fraction"),
    ({"epochs": -1}, "epochs"),
    ({"attack": "nope"}, "unknown attack"),
    ({"dtype": torch.int64}, "dtype"),
    ({"dtype": "float64"}, "dtype"),
])
def test_bad_arguments_name_themselves(digits, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        train(DigitsCNN(width=4), make_loader(digits.x_train[:32], digits.y_train[:32]), progress=False, **kwargs)


@pytest.mark.slow
def test_two_process_ddp_training_keeps_ranks_identical(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
           str(ROOT / "tests" / "ddp_train_worker.py"), str(tmp_path)]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    assert all(r["world"] == 2 and r["sampler"] == "DistributedSampler" for r in ranks)
    assert torch.equal(ranks[0]["params"], ranks[1]["params"]), "DDP ranks diverged"
    h, h1 = ranks[0]["history"], ranks[1]["history"]
    for key in ("epoch", "clean_accuracy", "robust_accuracy"):  # metrics all-reduced: one history
        assert h[key] == h1[key], key
    assert h["loss"][1:] == h1["loss"][1:]
    assert h["epoch"] == [0, 1, 2] and h["clean_accuracy"][-1] > h["clean_accuracy"][0]
    # training really happened: parameters differ from a fresh model's
    torch.manual_seed(0)
    fresh = torch.cat([p.detach().flatten() for p in DigitsCNN(width=8).parameters()])
    assert not torch.equal(fresh, ranks[0]["params"])

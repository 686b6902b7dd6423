"""The attack contract of DESIGN.md, checked on every attack: outputs, budgets, model state, seeds,
batching and input validation. Small fixed float64 models keep this exact and fast."""

from __future__ import annotations

import copy
import math
from typing import Callable

import pytest
import torch
from torch import nn

from advcourse.attacks import ATTACKS, AttackInfo, AttackSpec, cw, deepfool, fgsm, get_attack, noise, pgd, semantic
from advcourse.attacks import _core
from advcourse.attacks._toy import tiny_cnn

pytestmark = pytest.mark.usefixtures("single_thread")

INF = float("inf")
N, C, H, W = 6, 3, 12, 12


@pytest.fixture
def net() -> nn.Module:
    return tiny_cnn(seed=0, dtype=torch.float64)


@pytest.fixture
def x() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = torch.rand(N, C, H, W, generator=g, dtype=torch.float64)
    x[0, 0, :2] = 0.0  # pixels on both edges of the box, where clipping matters
    x[1, 1, :2] = 1.0
    return x


def _labels(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(x).argmax(1)


# name -> (call(model, x, y, **overrides), norm, eps); every gradient attack in its main settings
GRADIENT_CASES: dict[str, tuple[Callable, float, float]] = {
    "fgsm-inf": (lambda m, x, y, **k: fgsm(m, x, y, **{"eps": 0.05, **k}), INF, 0.05),
    "fgsm-l2": (lambda m, x, y, **k: fgsm(m, x, y, **{"eps": 0.5, "norm": 2, **k}), 2, 0.5),
    "fgsm-l1": (lambda m, x, y, **k: fgsm(m, x, y, **{"eps": 3.0, "norm": 1, **k}), 1, 3.0),
    "tfgsm": (lambda m, x, y, **k: fgsm(m, x, (y + 1) % 10, **{"eps": 0.05, "targeted": True, **k}), INF, 0.05),
    "pgd-inf": (lambda m, x, y, **k: pgd(m, x, y, **{"eps": 0.05, "step_size": 0.02, "steps": 4, **k}), INF, 0.05),
    "pgd-l2": (lambda m, x, y, **k: pgd(m, x, y, **{"eps": 0.5, "step_size": 0.2, "steps": 4, "norm": 2, **k}), 2, 0.5),
    "pgd-targeted-early": (lambda m, x, y, **k: pgd(m, x, (y + 3) % 10, **{
        "eps": 0.1, "step_size": 0.02, "steps": 6, "targeted": True, "early_stop": True, "random_start": False, **k}),
        INF, 0.1),
    "ifgsm": (lambda m, x, y, **k: pgd(m, x, y, **{
        "eps": 0.05, "step_size": 0.01, "steps": 6, "random_start": False, "early_stop": True, **k}), INF, 0.05),
    "deepfool": (lambda m, x, y, **k: deepfool(m, x, y, **{"max_iter": 10, **k}), 2, INF),
    "cw": (lambda m, x, y, **k: cw(m, x, y, **{"c": 1.0, "steps": 30, "lr": 0.05, "search_steps": 2, **k}), 2, INF),
}


# ----------------------------------------------------------------------------- outputs and budgets
@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_output_is_new_detached_in_box_and_within_budget(case, net, x):
    attack, p, eps = GRADIENT_CASES[case]
    x_in = x.clone().requires_grad_(True)  # a caller's tensor that tracks gradients
    x_adv = attack(net, x_in, _labels(net, x))
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and x_adv.device == x.device
    assert not x_adv.requires_grad and x_adv.grad_fn is None and x_in.grad is None
    assert x_adv.data_ptr() != x_in.data_ptr()
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert torch.equal(x_in.detach(), x)  # input untouched
    if math.isfinite(eps):
        assert (_core.per_sample_norm(x_adv - x, p) <= eps * (1 + 1e-9)).all()
    assert not torch.equal(x_adv, x)  # and it did something


@pytest.mark.parametrize("norm", [INF, 2, 1])
def test_fgsm_eps_zero_is_identity(norm, net, x):
    assert torch.equal(fgsm(net, x, eps=0, norm=norm), x)


@pytest.mark.parametrize("norm", [INF, 2])
@pytest.mark.parametrize("random_start", [True, False])
def test_pgd_eps_zero_is_identity(norm, random_start, net, x):
    x_adv = pgd(net, x, eps=0.0, step_size=0.1, steps=3, norm=norm, random_start=random_start)
    assert torch.equal(x_adv, x)


def test_zero_steps_is_the_start_point(net, x):
    assert torch.equal(pgd(net, x, eps=0.1, step_size=0.1, steps=0, random_start=False), x)
    g = torch.Generator().manual_seed(3)
    x0 = pgd(net, x, eps=0.1, step_size=0.1, steps=0, generator=g)
    assert 0 < (x0 - x).abs().max() <= 0.1
    assert torch.equal(deepfool(net, x, max_iter=0), x)


def test_noise_budget_box_and_identity(x):
    x_adv = noise(x, eps=0.1, generator=torch.Generator().manual_seed(0))
    assert (x_adv - x).abs().max() <= 0.1 + 1e-12 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv - x).abs().max() > 0.09  # it does use the budget
    assert torch.equal(noise(x, eps=0), x)
    y = noise(x * 4 - 2, eps=0.5, clip_min=-2, clip_max=2)
    assert y.min() >= -2 and y.max() <= 2


def test_semantic_is_the_negative(x):
    assert torch.equal(semantic(x), 1 - x)
    assert torch.allclose(semantic(semantic(x)), x)
    assert torch.equal(semantic(x * 255, max_val=255), 255 - x * 255)
    centred = x * 2 - 1
    assert torch.equal(semantic(centred, center=True), -centred)


# ----------------------------------------------------------------------------- the model comes back as found
def _messy_model() -> nn.Module:
    """Train mode with one submodule in eval, one frozen parameter, one stale .grad."""
    net = tiny_cnn(seed=5, dtype=torch.float64).train()
    net[1].eval()  # first BatchNorm frozen by its owner
    net[0].bias.requires_grad_(False)
    net[4].weight.grad = torch.ones_like(net[4].weight)
    return net


def _state(net: nn.Module) -> tuple:
    return (
        [m.training for m in net.modules()],
        [p.requires_grad for p in net.parameters()],
        [None if p.grad is None else p.grad.clone() for p in net.parameters()],
        {k: v.clone() for k, v in net.state_dict().items()},
    )


def _assert_same_state(a: tuple, b: tuple) -> None:
    assert a[0] == b[0] and a[1] == b[1]
    assert all((u is None and v is None) or torch.equal(u, v) for u, v in zip(a[2], b[2]))
    assert a[3].keys() == b[3].keys() and all(torch.equal(a[3][k], b[3][k]) for k in a[3])


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_model_state_restored(case, x):
    attack = GRADIENT_CASES[case][0]
    net = _messy_model()
    before = _state(net)
    y = torch.arange(N) % 10
    attack(net, x, y)
    _assert_same_state(before, _state(net))  # incl. BatchNorm running stats and num_batches_tracked


class _Boom(nn.Module):
    """Raises on its ``fail_on``-th forward pass (0 = first)."""

    def __init__(self, fail_on: int):
        super().__init__()
        self.body = _messy_model()
        self.calls, self.fail_on = 0, fail_on

    def forward(self, x):
        self.calls += 1
        if self.calls > self.fail_on:
            raise RuntimeError("boom")
        return self.body(x)


@pytest.mark.parametrize("case", GRADIENT_CASES)
@pytest.mark.parametrize("fail_on", [0, 1])
def test_model_state_restored_when_the_attack_raises(case, fail_on, x):
    attack = GRADIENT_CASES[case][0]
    net = _Boom(fail_on)
    # the eval-mode predictions (what the attack sees; train mode would add dropout noise), so
    # that every sample is right and even DeepFool needs a second forward pass
    y = _labels(copy.deepcopy(net.body).eval(), x)
    before = _state(net)
    with pytest.raises(RuntimeError, match="boom"):
        attack(net, x, y, return_info=True)
    _assert_same_state(before, _state(net))


def test_model_state_restored_when_labels_are_rejected_inside(x):
    net = _messy_model()
    before = _state(net)
    with pytest.raises(ValueError, match="y: class indices must be < num_classes = 10"):
        fgsm(net, x, torch.full((N,), 10), eps=0.1)
    _assert_same_state(before, _state(net))


def test_attacks_work_under_no_grad(net, x):
    with torch.no_grad():
        x_adv = fgsm(net, x, eps=0.05)
        assert not torch.equal(x_adv, x)
        assert not torch.equal(pgd(net, x, eps=0.05, step_size=0.01, steps=2), x)
        assert not torch.equal(deepfool(net, x, max_iter=3), x)


# ----------------------------------------------------------------------------- labels, seeds, batching
@pytest.mark.parametrize("case", ["fgsm-inf", "fgsm-l2", "pgd-inf", "ifgsm", "deepfool"])
def test_y_none_means_the_models_prediction(case, net, x):
    attack = GRADIENT_CASES[case][0]
    kw = {"generator": torch.Generator().manual_seed(0)} if case == "pgd-inf" else {}
    a = attack(net, x, None, **kw)
    kw = {"generator": torch.Generator().manual_seed(0)} if case == "pgd-inf" else {}
    b = attack(net, x, _labels(net, x), **kw)
    assert torch.equal(a, b)


@pytest.mark.parametrize("norm", [INF, 2])
def test_seeded_random_start_is_reproducible(norm, net, x):
    def run(seed):
        return pgd(net, x, eps=0.05, step_size=0.01, steps=2, norm=norm, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(run(7), run(7))
    assert not torch.equal(run(7), run(8))
    assert torch.equal(noise(x, eps=0.1, generator=torch.Generator().manual_seed(7)),
                       noise(x, eps=0.1, generator=torch.Generator().manual_seed(7)))


@pytest.mark.parametrize("case", ["fgsm-inf", "fgsm-l2", "fgsm-l1", "tfgsm", "pgd-inf", "pgd-l2", "ifgsm",
                                  "pgd-targeted-early", "deepfool"])
def test_batch_equals_per_sample(case, net, x):
    attack = GRADIENT_CASES[case][0]
    kw = {"random_start": False} if case in ("pgd-inf", "pgd-l2") else {}
    y = _labels(net, x)
    batch, info = attack(net, x, y, return_info=True, **kw)
    for i in range(N):
        one, one_info = attack(net, x[i:i + 1], y[i:i + 1], return_info=True, **kw)
        torch.testing.assert_close(one[0], batch[i], rtol=0, atol=1e-10)
        assert one_info.iterations.item() == info.iterations[i].item()


def _seeded(case: str) -> dict:
    """A fresh seeded generator for the cases with a random start (two runs must see the same start)."""
    return {"generator": torch.Generator().manual_seed(0)} if case in ("pgd-inf", "pgd-l2") else {}


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_info_is_consistent(case, net, x):
    attack = GRADIENT_CASES[case][0]
    x_adv, info = attack(net, x, _labels(net, x), return_info=True, **_seeded(case))
    assert isinstance(info, AttackInfo) and len(info) == N
    assert torch.equal(x_adv, attack(net, x, _labels(net, x), **_seeded(case)))  # same with or without details
    torch.testing.assert_close(info.l2, (x_adv - x).flatten(1).norm(dim=1))
    torch.testing.assert_close(info.linf, (x_adv - x).flatten(1).abs().amax(dim=1))
    assert torch.equal(info.pred, _labels(net, x_adv))
    targeted = case in ("tfgsm", "pgd-targeted-early")
    assert torch.equal(info.success, info.pred == info.y if targeted else info.pred != info.y)
    assert info.iterations.dtype == torch.long and (info.iterations >= 0).all()
    assert 0.0 <= info.success_rate <= 1.0


def test_early_stop_freezes_each_sample_at_its_first_success(net, x):
    """I-FGSM: sample i's output is the plain iterate after info.iterations[i] steps, already wrong."""
    y = _labels(net, x)
    kw = {"eps": 0.08, "step_size": 0.004, "random_start": False}
    x_adv, info = pgd(net, x, y, steps=15, early_stop=True, return_info=True, **kw)
    assert info.success.all() and len(set(info.iterations.tolist())) > 1  # samples stop at different steps
    for i in range(N):
        k = int(info.iterations[i])
        plain = pgd(net, x[i:i + 1], y[i:i + 1], steps=k, **kw)
        torch.testing.assert_close(plain[0], x_adv[i], rtol=0, atol=1e-12)
        before = pgd(net, x[i:i + 1], y[i:i + 1], steps=k - 1, **kw)
        assert _labels(net, before).item() == y[i].item()  # one step earlier it still held


def test_targeted_attacks_move_towards_the_target(net, x):
    y = _labels(net, x)
    ce = nn.functional.cross_entropy
    far = (y + 4) % 10  # any class: one small T-FGSM step lowers its loss
    with torch.no_grad():
        before = ce(net(x), far, reduction="none")
        after = ce(net(fgsm(net, x, far, eps=0.01, targeted=True)), far, reduction="none")
    assert (after < before).all()
    # Success needs a class the model can output near x at all: this random toy net predicts only 5, 7
    # and 9 anywhere in the box (classes 1 and 3 never win, even with eps=1), so aim at 7 and 9.
    assert y.unique().tolist() == [5, 7]
    target = torch.where(y == 5, 7, 9)
    _, info = pgd(net, x, target, eps=0.3, step_size=0.03, steps=30, targeted=True, return_info=True,
                  generator=torch.Generator().manual_seed(0))
    assert info.success.all() and torch.equal(info.pred, target)
    _, plain = pgd(net, x, y, eps=0.3, step_size=0.03, steps=30, return_info=True, random_start=False)
    assert (plain.pred != target).any()  # untargeted PGD lands elsewhere: the target steered it


def test_deepfool_fools_everything_with_small_steps(net, x):
    x_adv, info = deepfool(net, x, num_classes=10, return_info=True)
    assert info.success.all() and (info.iterations >= 1).all()
    # far smaller than a random direction of the same success: noise of that L2 size rarely flips
    assert info.l2.median() < 0.5
    already_wrong = (_labels(net, x) + 1) % 10
    x_same, info = deepfool(net, x, already_wrong, return_info=True)
    assert torch.equal(x_same, x) and (info.iterations == 0).all() and info.success.all()


def test_deepfool_max_iter_reports_failure_honestly(net, x):
    x_adv, info = deepfool(net, x, overshoot=0.0, max_iter=1, num_classes=2, return_info=True)
    assert torch.equal(info.pred, _labels(net, x_adv))
    assert (info.iterations <= 1).all()


# ----------------------------------------------------------------------------- bad input is named
def _bad_calls(net: nn.Module, x: torch.Tensor):
    y = torch.zeros(N, dtype=torch.long)
    return [
        (lambda: fgsm(net, x[0], y, eps=0.1), ValueError, "x: expected shape"),
        (lambda: fgsm(net, x.float().to(torch.int64), y, eps=0.1), TypeError, "x: expected a floating-point"),
        (lambda: fgsm(net, x.numpy(), y, eps=0.1), TypeError, "x: expected a torch.Tensor"),
        (lambda: fgsm(net, x * 2, y, eps=0.1), ValueError, r"x: pixels must lie in \[clip_min, clip_max\]"),
        (lambda: fgsm(net, x - 0.5, y, eps=0.1), ValueError, "x: pixels must lie"),
        (lambda: fgsm(net, x * float("nan"), y, eps=0.1), ValueError, "x: contains NaN"),
        (lambda: fgsm(net, x, y, eps=-0.1), ValueError, "eps: expected a finite number >= 0"),
        (lambda: fgsm(net, x, y, eps="8/255"), TypeError, "eps: expected a real number"),
        (lambda: fgsm(net, x, y, eps=0.1, norm=3), ValueError, "norm: expected one of"),
        (lambda: fgsm(net, x, y, eps=0.1, norm=None), TypeError, "norm:"),
        (lambda: pgd(net, x, y, eps=0.1, step_size=0.1, steps=2, norm=1), ValueError, "norm: expected one of"),
        (lambda: fgsm(net, x, y, eps=0.1, clip_min=1, clip_max=0), ValueError, "clip_min/clip_max"),
        (lambda: fgsm(net, x, y[:-1], eps=0.1), ValueError, r"y: expected shape \(6,\)"),
        (lambda: fgsm(net, x, y.view(-1, 1), eps=0.1), ValueError, "y: expected shape"),
        (lambda: fgsm(net, x, y.float(), eps=0.1), TypeError, "y: expected integer class indices"),
        (lambda: fgsm(net, x, [0] * N, eps=0.1), TypeError, "y: expected a LongTensor"),
        (lambda: fgsm(net, x, y - 1, eps=0.1), ValueError, "y: class indices must be >= 0"),
        (lambda: fgsm(net, x, y + 10, eps=0.1), ValueError, "y: class indices must be < num_classes"),
        (lambda: pgd(net, x, y + 10, eps=0.1, step_size=0.1, steps=1), ValueError, "y: class indices must be <"),
        (lambda: deepfool(net, x, y + 10), ValueError, "y: class indices must be <"),
        (lambda: fgsm(net, x, None, eps=0.1, targeted=True), ValueError, "y: a targeted attack needs"),
        (lambda: pgd(net, x, None, eps=0.1, step_size=0.1, steps=1, targeted=True), ValueError, "y: a targeted"),
        (lambda: pgd(net, x, y, eps=0.1, step_size=-1, steps=1), ValueError, "step_size: expected"),
        (lambda: pgd(net, x, y, eps=0.1, step_size=0.1, steps=-1), ValueError, "steps: expected an int >= 0"),
        (lambda: pgd(net, x, y, eps=0.1, step_size=0.1, steps=2.5), TypeError, "steps: expected an int"),
        (lambda: pgd(net, x, y, eps=0.1, step_size=0.1, steps=1, generator=0), TypeError, "generator:"),
        (lambda: deepfool(net, x, y, overshoot=-0.1), ValueError, "overshoot: expected a finite number >= 0"),
        (lambda: deepfool(net, x, y, num_classes=1), ValueError, "num_classes: expected an int >= 2"),
        (lambda: deepfool(net, x, y, max_iter=-1), ValueError, "max_iter: expected an int >= 0"),
        (lambda: fgsm(lambda t: t, x, y, eps=0.1), TypeError, "model: expected a torch.nn.Module"),
        (lambda: fgsm(nn.Flatten(0), x, y, eps=0.1), ValueError, "model: expected 2-D logits"),  # 1-D output
        (lambda: deepfool(nn.Identity(), x, y), ValueError, "model: expected 2-D logits"),
        (lambda: pgd(nn.Sequential(net, nn.Unflatten(1, (2, 5))), x, y, eps=0.1, step_size=0.1, steps=1),
         ValueError, "model: expected 2-D logits"),
        (lambda: noise(x, eps=-1), ValueError, "eps:"),
        (lambda: noise(x * 3, eps=0.1), ValueError, "x: pixels must lie"),
        (lambda: semantic(x * 3), ValueError, "x: pixels must lie"),
        (lambda: semantic(x, center="yes"), TypeError, "center:"),
    ]


def test_bad_input_raises_naming_the_argument(net, x):
    for i, (call, error, message) in enumerate(_bad_calls(net, x)):
        with pytest.raises(error, match=message):
            call()


def test_range_check_tolerates_float_noise(net, x):
    nudged = x.clone()
    nudged[0, 0, 0, 0] = -3e-8  # a normalise/un-normalise round trip (torchattacks #136)
    x_adv = fgsm(net, nudged, eps=0.0)
    assert x_adv.min() >= 0


def test_norm_accepts_names(net, x):
    assert torch.equal(fgsm(net, x, eps=0.3, norm="l2"), fgsm(net, x, eps=0.3, norm=2))
    assert torch.equal(fgsm(net, x, eps=0.03, norm="inf"), fgsm(net, x, eps=0.03))


def test_custom_clip_box(net, x):
    xs = x * 2 - 1
    x_adv = pgd(net, xs, eps=0.3, step_size=0.2, steps=3, clip_min=-1, clip_max=1)
    assert x_adv.min() >= -1 and x_adv.max() <= 1 and (x_adv - xs).abs().max() <= 0.3 + 1e-12
    assert x_adv.min() < 0  # no [0, 1] box sneaked in
    x_adv = deepfool(net, xs, clip_min=-1, clip_max=1, max_iter=10)
    assert x_adv.min() >= -1 and x_adv.max() <= 1


def test_float32_and_labels_on_another_device_type(x):
    net = tiny_cnn(seed=0)
    x32 = x.float()
    y = _labels(net, x32).to(torch.int32)
    assert fgsm(net, x32, y, eps=0.05).dtype == torch.float32
    assert deepfool(net, x32, y).dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(x):
    net = tiny_cnn(seed=0, dtype=torch.float64)
    y = _labels(net, x)
    g = torch.Generator().manual_seed(0)  # a CPU generator also seeds a CUDA run
    for attack in (lambda m, t, l: fgsm(m, t, l, eps=0.05),
                   lambda m, t, l: pgd(m, t, l, eps=0.05, step_size=0.01, steps=3, generator=g.manual_seed(0)),
                   lambda m, t, l: deepfool(m, t, l)):
        cpu = attack(net, x, y)
        gpu = attack(net.cuda(), x.cuda(), y.cuda())
        net.cpu()
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="x: is on cpu but the model's parameters are on cuda"):
        fgsm(net.cuda(), x, y, eps=0.1)


# ----------------------------------------------------------------------------- the registry
def test_registry_describes_every_attack():
    queries = ["square", "simba", "hopskipjump"]  # black box, but they query the model
    assert list(ATTACKS) == ["noise", "semantic", "fgsm", "pgd", "deepfool", "mifgsm", *queries, "apgd", "cw"]
    for name, spec in ATTACKS.items():
        assert isinstance(spec, AttackSpec) and spec.name == name and spec.fn.__name__ == name
        assert spec.box in ("white", "black") and spec.needs_model == (spec.box == "white" or name in queries)
        assert "arXiv:" in spec.paper and 2010 < spec.year < 2030 and spec.summary
        assert spec.fn.__doc__ and "Paper:" in spec.fn.__doc__ and "Returns:" in spec.fn.__doc__
    assert ATTACKS["fgsm"].targeted and ATTACKS["pgd"].targeted and not ATTACKS["deepfool"].targeted
    assert ATTACKS["deepfool"].norms == (2.0,)
    with pytest.raises(Exception):
        ATTACKS["fgsm"].year = 1999  # frozen


def test_get_attack():
    assert get_attack("PGD") is ATTACKS["pgd"]
    with pytest.raises(ValueError, match="noise, semantic, fgsm, pgd, deepfool"):
        get_attack("carlini")
    with pytest.raises(TypeError):
        get_attack(3)


def test_deepfool_crosses_boundaries_near_the_box_edge():
    """Clipping makes the walk creep up to a boundary and stop exactly on it (a float tie of two
    logits): without a minimum step, one image of this batch ran out of max_iter."""
    net = tiny_cnn(seed=0)
    x = torch.rand(32, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    _, info = deepfool(net, x, return_info=True)
    assert info.success.all() and info.iterations.max() <= 6

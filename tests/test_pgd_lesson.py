"""06_pgd's lesson code: the recorded PGD run, loss curves, early-stop bars, the steps app, the checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from advcourse.attacks import _toy, pgd
from advcourse.exercises import pgd as ex
from advcourse.widgets import pgd as lesson


@pytest.fixture(scope="module")
def toy():
    return _toy.tiny_cnn(seed=2, num_classes=1000)


@pytest.fixture(scope="module")
def batch(toy):
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = toy(x).argmax(1)
    return x, y


PARAMS = dict(eps=8 / 255, step_size=2 / 255, steps=6)


@pytest.mark.parametrize("random_start", [False, True])
@pytest.mark.parametrize("targeted", [False, True])
def test_trace_ends_where_pgd_ends(toy, batch, random_start, targeted):
    x, y = batch
    labels = torch.full_like(y, 5) if targeted else y
    tr = lesson.pgd_trace(toy, x, labels, random_start=random_start, targeted=targeted,
                          generator=torch.Generator().manual_seed(1), **PARAMS)
    ref = pgd(toy, x, labels, random_start=random_start, targeted=targeted,
              generator=torch.Generator().manual_seed(1), **PARAMS)
    assert torch.allclose(tr.x_adv, ref, atol=1e-6)
    assert tr.steps == 6 and tr.loss.shape == (7, 4) and tr.logits.shape == (7, 4, 1000)
    with torch.no_grad():
        assert torch.allclose(tr.loss[-1], F.cross_entropy(toy(ref), labels, reduction="none"), atol=1e-4)
    if not random_start:
        with torch.no_grad():
            assert torch.allclose(tr.logits[0], toy(x), atol=1e-5)
    assert tr.images is None


def test_trace_keeps_every_iterate_inside_the_ball(toy, batch):
    x, y = batch
    tr = lesson.pgd_trace(toy, x, y, keep_images=True, **PARAMS)
    assert tr.images.shape == (7, *x.shape)
    assert torch.equal(tr.images[0], x) and torch.equal(tr.images[-1], tr.x_adv)
    assert float((tr.images - x).abs().max()) <= PARAMS["eps"] + 1e-6
    assert tr.images.min() >= 0 and tr.images.max() <= 1


def test_first_success_is_what_early_stop_spends(toy, batch):
    x, y = batch
    tr = lesson.pgd_trace(toy, x, y, **PARAMS)
    _, info = pgd(toy, x, y, random_start=False, early_stop=True, return_info=True, **PARAMS)
    first = tr.first_success()
    expected = torch.where(first >= 0, first, torch.full_like(first, PARAMS["steps"]))
    assert torch.equal(info.iterations, expected)
    assert torch.equal(tr.success(), tr.pred != y)


def test_first_success_known_values():
    logits = torch.zeros(3, 2, 4)
    logits[:, 0, 1] = 1  # sample 0 predicted 1 throughout
    logits[2, 1, 2] = 1  # sample 1 leaves class 0 at iterate 2
    tr = lesson.Trace(1.0, 1.0, False, torch.tensor([1, 0]), torch.zeros(3, 2), logits, torch.zeros(2, 1, 1, 1),
                      torch.zeros(2, 1, 1, 1))
    assert tr.first_success().tolist() == [-1, 2]


@pytest.mark.parametrize("kwargs, err, word", [
    ({"eps": -1.0}, ValueError, "eps"),
    ({"steps": 1.5}, TypeError, "steps"),
    ({"step_size": "a"}, TypeError, "step_size"),
    ({"norm": 1}, ValueError, "norm"),
])
def test_trace_rejects_bad_input(toy, batch, kwargs, err, word):
    with pytest.raises(err, match=word):
        lesson.pgd_trace(toy, *batch, **{**PARAMS, **kwargs})
    with pytest.raises(ValueError, match="y"):
        lesson.pgd_trace(toy, batch[0], None, **PARAMS)


def test_trace_leaves_the_model_as_found(toy, batch):
    toy.train()
    try:
        lesson.pgd_trace(toy, *batch, **PARAMS)
        assert toy.training and all(p.requires_grad and p.grad is None for p in toy.parameters())
    finally:
        toy.eval()


def test_loss_curves_and_iterations(toy, batch):
    x, y = batch
    tr = lesson.pgd_trace(toy, x, y, **PARAMS)
    fig = lesson.loss_curves({"a": tr, "b": tr})
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    means = [line for line in fig.axes[0].get_lines() if line.get_linewidth() > 2]
    assert len(means) == 2 and list(means[0].get_ydata()) == pytest.approx(tr.loss.mean(1).tolist())
    fig = lesson.show_iterations(torch.tensor([1, 3, 0, 6]), list("abcd"), budget=6)
    assert len(fig.axes[0].patches) == 4 and "10 gradient steps used of 24" in fig.axes[0].get_title()


@pytest.fixture(scope="module")
def grid(toy, batch):
    x, _ = batch
    return lesson.step_grid(toy, x[:1], torch.tensor([7]), eps=8 / 255, step_sizes=[1 / 255, 2 / 255], steps=4,
                            targeted=True)


def test_step_grid_and_render(grid):
    assert set(grid) == {1 / 255, 2 / 255} and all(t.images is not None for t in grid.values())
    fig = lesson.render_pgd(grid, 2 / 255, 3)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    assert "after 3 step(s)" in fig.axes[2].get_title() and "target" in fig.axes[2].get_title()
    delta = float((grid[2 / 255].images[3, 0] - grid[2 / 255].x[0]).abs().max()) * 255
    assert f"{delta:.2f}/255" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="step_size"):
        lesson.render_pgd(grid, 3 / 255, 1)
    with pytest.raises(ValueError, match="steps"):
        lesson.render_pgd(grid, 2 / 255, 9)
    with pytest.raises(ValueError, match="step_sizes"):
        lesson.step_grid(None, None, None, eps=1.0, step_sizes=[], steps=1)


def test_pgd_app_redraws_on_both_sliders(grid, monkeypatch):
    seen = []
    monkeypatch.setattr(lesson, "render_pgd", lambda g, step_size, steps: seen.append((step_size, steps)) or Figure())
    app = lesson.pgd_app(grid)
    size, steps = app.children[0].children
    steps.value = 1
    assert seen[-1][1] == 1
    size.value = 1 / 255
    assert seen[-1] == (1 / 255, 1)


# ----------------------------------------------------------------------------- the checks
def test_check_projection():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 4, 4, generator=g)
    z = x + (torch.rand(x.shape, generator=g) - 0.5) * 0.2
    eps = 0.03
    right = (x + (z - x).clamp(-eps, eps)).clamp(0, 1)
    assert ex.check_projection(right, x, z, eps)
    assert not ex.check_projection(..., x, z, eps)
    assert "more than eps" in ex.check_projection(z.clamp(0, 1), x, z, eps).message
    unclipped = x.clone()
    unclipped[0, 0, 0, 0] = -0.01
    x2 = x.clone()
    x2[0, 0, 0, 0] = 0.0
    assert "[0, 1]" in ex.check_projection(unclipped, x2, x2, eps).message
    rescaled = x + (z - x) * (eps / (z - x).abs().amax())
    assert "nearest" in ex.check_projection(rescaled.clamp(0, 1), x, z, eps).message
    assert "shape" in ex.check_projection(right[0], x, z, eps).message


def test_check_gradient_steps():
    its = torch.tensor([1, 2, 0, 5])
    assert ex.check_gradient_steps(8, its) and ex.check_gradient_steps(torch.tensor(8), its)
    assert not ex.check_gradient_steps(..., its)
    assert "number of photos" in ex.check_gradient_steps(4, its).message
    assert "every photo" in ex.check_gradient_steps(20, its).message
    assert "whole number" in ex.check_gradient_steps(8.0, its).message


def test_check_steps_to_rim():
    assert ex.check_steps_to_rim(4, eps=1 / 255, step_size=0.25 / 255)
    assert ex.check_steps_to_rim(3, eps=8 / 255, step_size=3 / 255)
    assert not ex.check_steps_to_rim(..., eps=1 / 255, step_size=0.25 / 255)
    assert "at most" in ex.check_steps_to_rim(3, eps=1 / 255, step_size=0.25 / 255).message
    assert "fewer" in ex.check_steps_to_rim(5, eps=1 / 255, step_size=0.25 / 255).message
    assert "whole number" in ex.check_steps_to_rim("4", eps=1 / 255, step_size=0.25 / 255).message


def test_pgd_step_is_the_library_update():
    import sys

    assert lesson.pgd_step is sys.modules["advcourse.attacks.pgd"].pgd_step

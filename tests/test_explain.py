"""advcourse.foundations.explain: input gradients against the closed form, saliency maps, figures, source display."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from advcourse.foundations import explain
from advcourse.attacks import fgsm
from advcourse.attacks._toy import linear, tiny_cnn

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture
def net() -> nn.Module:
    return tiny_cnn(seed=0, dtype=torch.float64)


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(5, 3, 12, 12, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def test_input_gradient_matches_the_closed_form_of_an_affine_model():
    lin = linear(in_shape=(1, 4, 4), num_classes=3, seed=1)
    x = torch.rand(4, 1, 4, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1])
    # CE(Wx + b, y): ∇x = Wᵀ (softmax(Wx + b) − onehot(y))
    p = torch.softmax(x.flatten(1) @ lin.weight.T + lin.bias, dim=1).detach()
    expected = ((p - nn.functional.one_hot(y, 3)) @ lin.weight.detach()).view_as(x)
    torch.testing.assert_close(explain.input_gradient(lin, x, y), expected)
    torch.testing.assert_close(explain.input_gradient(lin, x, y, targeted=True), -expected)


def test_gradient_is_per_sample_and_y_none_uses_the_prediction(net, x):
    y = net(x).argmax(1)
    g = explain.input_gradient(net, x, y)
    assert g.shape == x.shape and g.dtype == x.dtype and not g.requires_grad
    assert g.abs().sum() > 0
    for i in range(len(x)):
        torch.testing.assert_close(explain.input_gradient(net, x[i:i + 1], y[i:i + 1])[0], g[i])
    assert torch.equal(explain.input_gradient(net, x), g)


def test_gradient_sign_is_the_fgsm_direction(net, x):
    s = explain.gradient_sign(net, x)
    assert set(s.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert torch.equal((x + 0.03 * s).clamp(0, 1), fgsm(net, x, eps=0.03))
    target = (net(x).argmax(1) + 1) % 10
    st = explain.gradient_sign(net, x, target, targeted=True)
    assert torch.equal((x + 0.03 * st).clamp(0, 1), fgsm(net, x, target, eps=0.03, targeted=True))


def test_saliency_is_the_scaled_channel_max(net, x):
    s = explain.saliency(net, x)
    assert s.shape == (5, 12, 12) and s.min() >= 0
    torch.testing.assert_close(s.flatten(1).amax(1), torch.ones(5, dtype=x.dtype))
    g = explain.input_gradient(net, x).abs().amax(1)
    torch.testing.assert_close(s, g / g.flatten(1).amax(1).view(-1, 1, 1))


def test_saliency_of_a_constant_model_is_zero_not_nan(x):
    const = nn.Sequential(nn.Flatten(), nn.Linear(432, 3, dtype=torch.float64))
    with torch.no_grad():
        const[1].weight.zero_()
    assert torch.equal(explain.saliency(const, x), torch.zeros(5, 12, 12, dtype=x.dtype))


def test_model_is_left_as_found_and_works_under_no_grad(x):
    net = tiny_cnn(seed=3, dtype=torch.float64).train()
    net[0].bias.requires_grad_(False)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    flags = [p.requires_grad for p in net.parameters()]
    with torch.no_grad():
        g = explain.input_gradient(net, x)
    assert g.abs().sum() > 0
    assert net.training and all(m.training for m in net.modules())
    assert [p.requires_grad for p in net.parameters()] == flags
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())  # BatchNorm stats too


@pytest.mark.parametrize("call, error, message", [
    (lambda n, x: explain.input_gradient(n, x[0]), ValueError, "x: expected shape"),
    (lambda n, x: explain.input_gradient(n, x * 3), ValueError, "x: pixels must lie"),
    (lambda n, x: explain.input_gradient(n, x, torch.zeros(4, dtype=torch.long)), ValueError, "y: expected shape"),
    (lambda n, x: explain.input_gradient(n, x, torch.full((5,), 10)), ValueError, "y: class indices must be <"),
    (lambda n, x: explain.input_gradient(n, x, targeted=True), ValueError, "y: a targeted attack needs"),
    (lambda n, x: explain.saliency("net", x), TypeError, "model: expected a torch.nn.Module"),
    (lambda n, x: explain.show_saliency(n, x, titles=["a"]), ValueError, "titles: expected 5"),
    (lambda n, x: explain.show_source(len), TypeError, "fn: expected a Python function"),
])
def test_bad_input_is_named(call, error, message, net, x):
    with pytest.raises(error, match=message):
        call(net, x)


def test_show_saliency_draws_photos_over_maps(net, x):
    fig = explain.show_saliency(net, x[:3], titles=["a", "b", "c"])
    assert isinstance(fig, Figure) and len(fig.axes) == 7  # 2 × 3 panels and the colour bar
    assert [ax.get_title() for ax in fig.axes[:3]] == ["a", "b", "c"]
    maps = [ax.images[0].get_array() for ax in fig.axes[3:6]]
    s = explain.saliency(net, x[1:2])[0].float()
    expected = (s / s.flatten().quantile(0.99)).clamp(max=1)  # each map scaled by its 99th percentile
    torch.testing.assert_close(torch.tensor(maps[1].data), expected)
    assert float(expected.max()) == 1.0 and float((expected == 1).float().mean()) <= 0.02
    assert fig.axes[6].get_ylabel().startswith("max |∇x loss|")


def test_show_saliency_percentile_is_checked(net, x):
    with pytest.raises(ValueError, match="percentile: expected a number in"):
        explain.show_saliency(net, x[:2], percentile=0)


def test_show_saliency_names_imagenet_classes():
    lin = linear(in_shape=(3, 4, 4), num_classes=1000, seed=0, dtype=torch.float32)
    x = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    fig = explain.show_saliency(lin, x, torch.tensor([281, 1]))
    assert [ax.get_title() for ax in fig.axes[:2]] == ["tabby", "goldfish"]


def test_show_source_plain_and_highlighted():
    src = explain.show_source(fgsm)
    assert str(src).startswith("def fgsm(") and repr(src) == str(src) and src.name == "fgsm"
    page = src._repr_html_()
    assert "<span" in page and "fgsm" in page and "def fgsm(" not in page  # tokens are coloured


def test_show_source_cuts_docstrings_to_their_first_line():
    import ast
    import inspect

    short, whole = str(explain.show_source(fgsm)), str(explain.show_source(fgsm, full=True))
    assert whole == inspect.getsource(fgsm)
    first = inspect.getdoc(fgsm).splitlines()[0]
    assert short.splitlines()[3] == f'    """{first} …"""'  # after the three lines of the signature
    assert "Paper:" in whole and "Paper:" not in short and "Args:" not in short
    body = whole[whole.index('"""', whole.index('"""') + 3) + 4:]  # everything after the docstring
    assert short.endswith(body)  # the code itself comes whole
    assert len(short.splitlines()) < len(whole.splitlines()) - 20
    ast.parse(short)


def test_show_source_of_a_method_and_a_class():
    import ast

    from advcourse.evaluation.evaluate import Table
    from advcourse.widgets.pgd import Trace

    method = str(explain.show_source(Table.__getitem__))
    assert method.startswith("def __getitem__(")  # dedented
    cls = str(explain.show_source(Trace))
    ast.parse(cls)
    for node in ast.walk(ast.parse(cls)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node):
            assert "\n" not in ast.get_docstring(node)  # every docstring in it is one line
    one_liner = str(explain.show_source(Table))
    assert '"""Several :class:`Report` rows' in one_liner and "…" not in one_liner.splitlines()[1]

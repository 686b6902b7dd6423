"""The random resize-and-pad app of 08_defences: a budget slider over precomputed transfer attacks.

Taught in 08_defences. :func:`render_transfer` draws one attacked photo with the bare and the
defended model's verdicts next to the accuracy-versus-budget curves, from a precomputed
:class:`~advcourse.defences.TransferSweep`, so moving the slider runs no model at all.
"""

from __future__ import annotations

from typing import Any, Sequence

from matplotlib.figure import Figure

from advcourse.core import checks
from advcourse.defences.randomization import TransferSweep
from advcourse.models.labels import class_name
from advcourse.core.viz import figure_function, new_figure, to_hwc
from advcourse.widgets import make_app
from advcourse.widgets.fgsm import eps_label

__all__ = ["render_transfer", "transfer_app"]


@figure_function
def render_transfer(sweep: TransferSweep, eps: float, photo: int = 0, names: Sequence[str] | None = None) -> Figure:
    """Photo ``photo`` attacked at budget ``eps`` (one of ``sweep.eps``) and both models' answers.

    Left: the adversarial photo, titled with the bare and the defended prediction. Right: accuracy
    of both models against the budget, with the chosen budget marked.
    """
    checks.check_instance(sweep, TransferSweep, "sweep", "made by advcourse.defences.transfer_sweep")
    eps = checks.check_nonnegative(eps, "eps")
    if not any(abs(e - eps) < 1e-9 for e in sweep.eps):
        raise ValueError(f"eps: expected one of the precomputed budgets {[eps_label(e) for e in sweep.eps]}, got {eps!r}")
    i = min(range(len(sweep.eps)), key=lambda j: abs(sweep.eps[j] - eps))
    photo = checks.check_index(photo, "photo", sweep.x_adv[i].shape[0])
    if names is not None and len(checks.check_sequence(names, "names", "['chelsea_cat', ...]")) <= photo:
        raise ValueError(f"names: expected a name for every photo, got {len(names)}")
    fig = new_figure(9.0, 3.4)
    ax_img, ax_acc = fig.subplots(1, 2, width_ratios=[1, 1.5])
    ax_img.imshow(to_hwc(sweep.x_adv[i][photo]))
    ax_img.axis("off")
    name = names[photo] if names is not None else f"photo {photo}"
    ax_img.set_title(f"{name}, PGD at eps = {eps_label(eps)}\nbare: {class_name(int(sweep.bare_pred[i][photo]))}\n"
                     f"defended: {class_name(int(sweep.defended_pred[i][photo]))}")
    budgets = [e * 255 for e in sweep.eps]
    ax_acc.plot(budgets, sweep.bare_accuracy, "-o", label="bare model")
    ax_acc.plot(budgets, sweep.defended_accuracy, "-s", label="random resize & pad")
    ax_acc.axvline(eps * 255, color="grey", ls=":")
    ax_acc.set_xlabel("eps (×1/255), PGD crafted on the bare model")
    ax_acc.set_ylabel("accuracy on the shipped photos")
    ax_acc.set_ylim(0, 1.05)
    fig.legend(loc="outside lower center", ncols=2)
    return fig


def transfer_app(sweep: TransferSweep, names: Sequence[str] | None = None) -> Any:
    """A budget slider (precomputed values only) and a photo dropdown over :func:`render_transfer`."""
    import ipywidgets as W

    budget = W.SelectionSlider(options=[(eps_label(e), e) for e in sweep.eps], value=sweep.eps[-1],
                               description="eps", continuous_update=False)
    labels = list(names) if names is not None else [f"photo {k}" for k in range(sweep.x_adv[0].shape[0])]
    photo = W.Dropdown(options=[(n, k) for k, n in enumerate(labels)], value=0, description="photo")
    return make_app(lambda eps, photo: render_transfer(sweep, eps, photo, labels), {"eps": budget, "photo": photo})

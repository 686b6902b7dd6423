"""Adversarial training: fit a model on a mix of clean and attacked examples, on one or many processes.

Taught in 08_defences. Each batch from the loader is split: a share ``adv_fraction`` of its images
is replaced by what ``attack`` makes of them against the *current* weights, the rest stay clean,
and one optimiser step is taken on the cross-entropy of the mixed batch (Goodfellow et al. 2015
mix clean and adversarial losses; Madry et al. 2018 train on adversarial examples only, i.e.
``adv_fraction=1``). Before training and after every epoch, clean and robust accuracy on held-out
data are measured and kept in a :class:`History`.

The same call runs under ``torchrun`` with ``DistributedDataParallel`` (gloo on CPU, nccl on GPU):
when a process group is initialised the model is wrapped in DDP (unless it already is), each
process trains on its shard of the data (``make_loader`` gives a ``DistributedSampler``; its epoch
is advanced here), and every metric is summed over processes with ``all_reduce``, so all ranks
return the same history. Attacks run on the *underlying* module, never through the DDP wrapper:
DDP's forward broadcasts buffers and prepares gradient buckets on every call — collectives that
each rank must make equally often, which an attack with early stopping does not — and the attack
must not touch the gradient synchronisation at all. Attacking ``ddp.module`` is purely local and
uses the very same weights.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from advcourse.core import checks
from advcourse.attacks import _core, get_attack
from advcourse.core.progress import progress_bar
from advcourse.core.viz import figure_function, new_figure

__all__ = ["History", "train", "evaluate", "plot_histories", "unwrap"]


@dataclass
class History:
    """Accuracy before training (epoch 0) and after each epoch, on the held-out data.

    Attributes:
        epoch: 0, 1, …, epochs.
        loss: mean training loss of each epoch (``nan`` for epoch 0).
        clean_accuracy, robust_accuracy: in [0, 1]; robust = under the evaluation attack
            (``nan`` when there is none).
        attack: a short description of the evaluation attack.
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    clean_accuracy: list[float] = field(default_factory=list)
    robust_accuracy: list[float] = field(default_factory=list)
    attack: str = ""

    def _rows(self) -> list[tuple[str, str, str, str]]:
        return [(str(e), "–" if loss != loss else f"{loss:.3f}", f"{c:.1%}", "–" if r != r else f"{r:.1%}")
                for e, loss, c, r in zip(self.epoch, self.loss, self.clean_accuracy, self.robust_accuracy)]

    def __str__(self) -> str:
        head = ("epoch", "loss", "clean acc", f"robust acc ({self.attack})" if self.attack else "robust acc")
        grid = [head, *self._rows()]
        widths = [max(len(r[j]) for r in grid) for j in range(4)]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in grid)

    __repr__ = __str__  # rounded numbers: stable in stored notebook outputs

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("epoch", "loss", "clean acc", "robust acc"))
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in self._rows())
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    @figure_function
    def plot(self, title: str = "") -> Figure:
        """Clean and robust accuracy against epochs."""
        return plot_histories({title or "training": self})


@figure_function
def plot_histories(histories: dict[str, History]) -> Figure:
    """Clean (solid) and robust (dashed) accuracy of consecutive training runs on one time axis.

    Each history continues where the previous one ended (e.g. clean training, then adversarial
    fine-tuning); a dotted line marks each hand-over.
    """
    if not isinstance(histories, dict) or not histories:
        raise ValueError(f"histories: expected a non-empty dict such as {{'clean': clean_run}}, got {histories!r}")
    for name, h in histories.items():
        checks.check_instance(h, History, f"histories[{name!r}]", "returned by train(..., eval_data=...)")
    fig = new_figure(6.5, 3.4)
    ax = fig.subplots()
    start = 0
    for i, (name, h) in enumerate(histories.items()):
        epochs = [start + e for e in h.epoch]
        colour = f"C{i}"
        ax.plot(epochs, h.clean_accuracy, "-o", color=colour, ms=4, label=f"{name}: clean")
        ax.plot(epochs, h.robust_accuracy, "--s", color=colour, ms=4, label=f"{name}: robust")
        if i:
            ax.axvline(start, color="grey", ls=":", lw=1)
        start = epochs[-1]
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    fig.legend(loc="outside lower center", ncols=2)
    return fig


# ----------------------------------------------------------------------------- distributed plumbing
def _world() -> tuple[int, int]:
    """(rank, world size); (0, 1) without an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all processes (identity on one process)."""
    if _world()[1] == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` (or ``DataParallel``) wrapper, else ``model``."""
    checks.check_model(model)
    return model.module if isinstance(model, (DistributedDataParallel, nn.DataParallel)) else model


def _distribute(model: nn.Module, device: torch.device) -> nn.Module:
    """Wrap ``model`` in DDP when a process group is up and it is not wrapped yet."""
    if _world()[1] == 1 or isinstance(model, DistributedDataParallel):
        return model
    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# ----------------------------------------------------------------------------- attacks
def _attack_fn(attack: str | Callable | None) -> tuple[Callable | None, str]:
    if attack is None:
        return None, ""
    if isinstance(attack, str):
        spec = get_attack(attack)
        if not spec.needs_model:
            return (lambda model, x, y, **p: spec.fn(x, **p)), spec.name
        return spec.fn, spec.name
    if callable(attack):
        return attack, getattr(attack, "__name__", "attack")
    raise TypeError(f"attack: expected None, a name from advcourse.attacks.ATTACKS or a callable, got {type(attack).__name__}")


def _with_generator(fn: Callable, params: dict[str, Any], device: torch.device, seed: int) -> dict[str, Any]:
    """Give a randomised attack a fixed generator (reproducible evaluation) unless one was passed."""
    try:
        takes = "generator" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        takes = False
    if takes and params.get("generator") is None:
        return {**params, "generator": torch.Generator(device).manual_seed(seed)}
    return params


# ----------------------------------------------------------------------------- evaluation
def evaluate(model: nn.Module, x: Tensor, y: Tensor, *, attack: str | Callable | None = None,
             attack_params: dict[str, Any] | None = None, batch_size: int = 256, seed: int = 0) -> tuple[float, float]:
    """Clean and robust accuracy of ``model`` on ``(x, y)``, split over processes when distributed.

    Args:
        model: classifier (DDP-wrapped or not) mapping (N, C, H, W) in [0, 1] to (N, K) logits.
        x: (N, C, H, W) in [0, 1]; y: (N,) int64 labels. Each process evaluates ``x[rank::world]``.
        attack, attack_params: the attack for the robust accuracy (``None``: robust is ``nan``).
            Randomised attacks get a generator seeded with ``seed`` unless ``attack_params`` has one.

    Returns:
        ``(clean_accuracy, robust_accuracy)`` in [0, 1], the same on every process.
    """
    core = checks.check_model(unwrap(checks.check_model(model)))
    checks.check_images(x)
    y = checks.check_labels(y, x)
    batch_size = checks.check_count(batch_size, "batch_size", minimum=1)
    seed = checks.check_count(seed, "seed")
    _check_params(attack_params, "attack_params")
    device = _device(core)
    fn, _ = _attack_fn(attack)
    rank, world = _world()
    x, y = x[rank::world].to(device), y[rank::world].to(device)
    params = _with_generator(fn, dict(attack_params or {}), device, seed) if fn is not None else {}
    right = robust = 0
    for i in range(0, x.shape[0], batch_size):
        bx, by = x[i:i + batch_size], y[i:i + batch_size]
        right += int((_core.predicted_labels(core, bx) == by).sum())
        if fn is not None:
            robust += int((_core.predicted_labels(core, fn(core, bx, by, **params)) == by).sum())
    right, robust, n = _sum([right, robust, x.shape[0]], device)
    return right / n, (robust / n if fn is not None else float("nan"))


def _check_params(params: object, name: str) -> None:
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"{name}: expected a dict of keyword arguments such as {{'eps': 8/255}}, "
                        f"got {type(params).__name__}")


# ----------------------------------------------------------------------------- the loop
def train(model: nn.Module, loader: Iterable[tuple[Tensor, Tensor]], *, epochs: int = 1,
          attack: str | Callable | None = None, attack_params: dict[str, Any] | None = None,
          adv_fraction: float = 0.5, optimizer: torch.optim.Optimizer | None = None, lr: float = 1e-3,
          eval_data: tuple[Tensor, Tensor] | None = None, eval_attack: str | Callable | None = "same",
          eval_params: dict[str, Any] | None = None, progress: bool = True,
          dtype: torch.dtype | None = None) -> History:
    """Train ``model`` in place, on clean batches or on a clean + adversarial mix; return its history.

    Paper: Goodfellow, Shlens & Szegedy, 2015, arXiv:1412.6572 (Sec. 6, mixed loss); Madry et al.,
        2018, arXiv:1706.06083 (PGD adversarial training); Kurakin, Goodfellow & Bengio, 2017,
        arXiv:1611.01236 (replacing part of each batch by adversarial examples).

    Args:
        model: classifier mapping (N, C, H, W) in [0, 1] to (N, K) logits; trained in place (under
            a process group it is wrapped in ``DistributedDataParallel``; pass one already wrapped
            to choose the DDP options yourself).
        loader: iterable of ``(x, y)`` batches, x in [0, 1] (e.g. :func:`advcourse.models.datasets.make_loader`).
        epochs: passes over ``loader`` (>= 0).
        attack: ``None`` for standard training, or an attack name from
            :data:`advcourse.attacks.ATTACKS` / a callable ``attack(model, x, y, **params)``.
        attack_params: keyword arguments of the attack, e.g. ``{"eps": 0.2, "step_size": 0.05, "steps": 5}``.
        adv_fraction: share of each batch replaced by adversarial examples, in [0, 1].
        optimizer: defaults to ``Adam(model.parameters(), lr=lr)``.
        eval_data: held-out ``(x, y)`` measured before training and after each epoch.
        eval_attack, eval_params: attack for the robust accuracy; ``"same"`` (default) reuses
            ``attack`` and ``attack_params``.
        progress: a ``tqdm`` bar over all batches (on rank 0 only).
        dtype: train (and measure) in this floating-point precision, e.g. ``torch.float64``; the
            model's parameters and buffers return to their own dtypes afterwards. ``None`` (default):
            the model's own. The course trains its digits models in float64: a few epochs of SGD
            amplify float32 rounding, which differs between CPUs, into a test digit or two of
            accuracy; float64 shrinks that rounding a billion-fold (a gradient entry that is exactly
            zero on one CPU's kernels and tiny on another's can still tip Adam's or PGD's sign-like
            steps, so logs of adversarial training may differ by a digit).

    Returns:
        :class:`History` — identical on every process.

    Notes:
        Each submodule is left in the train/eval mode it came in; attacks run on the bare module in eval
        mode with frozen weights, so crafting examples never writes parameter gradients.

    Example:
        >>> history = train(model, loader, epochs=3, attack="pgd", eval_data=(x_test, y_test),
        ...                 attack_params={"eps": 0.2, "step_size": 0.05, "steps": 5})
    """
    checks.check_model(model)
    epochs = checks.check_count(epochs, "epochs")
    adv_fraction = checks.check_nonnegative(adv_fraction, "adv_fraction")
    if adv_fraction > 1:
        raise ValueError(f"adv_fraction: expected a share in [0, 1], got {adv_fraction}")
    checks.check_bool(progress, "progress")
    lr = checks.check_nonnegative(lr, "lr")
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"loader: expected an iterable of (x, y) batches such as a DataLoader, got {type(loader).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    if eval_data is not None and not (isinstance(eval_data, (tuple, list)) and len(eval_data) == 2):
        raise TypeError("eval_data: expected a pair (x, y) of held-out images and labels, or None")
    _check_params(attack_params, "attack_params")
    _check_params(eval_params, "eval_params")
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype: expected a floating-point torch.dtype such as torch.float64, or None, got {dtype!r}")
    fn, name = _attack_fn(attack)
    attack_params = dict(attack_params or {})
    if eval_attack == "same":
        eval_attack, eval_params = attack, attack_params if eval_params is None else eval_params
    device = _device(model)
    restore = _cast(model, dtype)
    try:
        return _train(model, loader, epochs, fn, name, attack_params, adv_fraction, optimizer, lr, eval_data,
                      eval_attack, eval_params, progress, device, dtype)
    finally:
        restore()


def _cast(model: nn.Module, dtype: torch.dtype | None) -> Callable[[], None]:
    """Cast the model's floating parameters, buffers and gradients to ``dtype`` in place (the same
    tensor objects, so an optimizer built on them still holds them); return the undo."""
    if dtype is None:
        return lambda: None
    tensors = [t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()]
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    saved = [(t, t.dtype) for t in tensors]
    for t in tensors:
        t.data = t.data.to(dtype)

    def undo() -> None:
        for t, original in saved:
            t.data = t.data.to(original)
        for p in model.parameters():  # gradients made during training, in the training dtype
            if p.grad is not None and p.grad.dtype != p.dtype:
                p.grad = p.grad.to(p.dtype)

    return undo


def _train(model: nn.Module, loader: Iterable[tuple[Tensor, Tensor]], epochs: int, fn: Callable | None,
           name: str | None, attack_params: dict[str, Any], adv_fraction: float,
           optimizer: torch.optim.Optimizer | None, lr: float, eval_data: tuple[Tensor, Tensor] | None,
           eval_attack: str | Callable | None, eval_params: dict[str, Any] | None, progress: bool,
           device: torch.device, dtype: torch.dtype | None) -> History:
    """The loop of :func:`train`, on arguments it has checked."""
    net = _distribute(model, device)
    core = unwrap(net)
    optimizer = optimizer or torch.optim.Adam(net.parameters(), lr=lr)
    rank, world = _world()
    sampler = getattr(loader, "sampler", None)
    if world > 1 and not hasattr(sampler, "set_epoch"):
        warnings.warn("loader: under torch.distributed each process should see its own shard; build the "
                      "loader with advcourse.models.datasets.make_loader or a DistributedSampler", stacklevel=2)
    history = History(attack=_describe(eval_attack, eval_params))

    def measure(epoch: int, loss: float) -> None:
        if eval_data is None:
            return
        x_eval, y_eval = eval_data
        if dtype is not None and isinstance(x_eval, Tensor):
            x_eval = x_eval.to(dtype)
        clean, robust = evaluate(core, x_eval, y_eval, attack=eval_attack, attack_params=eval_params)
        history.epoch.append(epoch)
        history.loss.append(loss)
        history.clean_accuracy.append(clean)
        history.robust_accuracy.append(robust)

    measure(0, float("nan"))
    modes = [(m, m.training) for m in net.modules()]  # each submodule's own mode, restored at the end
    total = epochs * len(loader) if hasattr(loader, "__len__") else None
    bar = progress_bar(total=total, desc=f"training ({name or 'clean'})", unit="batch", enabled=progress and rank == 0,
                       leave=False)
    try:
        for epoch in range(1, epochs + 1):
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            net.train()
            loss_sum, seen = 0.0, 0
            for x, y in loader:
                checks.check_images(x, name="loader")
                x, y = x.to(device, dtype or x.dtype), checks.check_labels(y, x, name="loader").to(device)
                x = _mix(core, fn, x, y, attack_params, adv_fraction)
                loss = F.cross_entropy(net(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss.item() * x.shape[0]
                seen += x.shape[0]
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
            loss_sum, seen = _sum([loss_sum, seen], device)
            measure(epoch, loss_sum / max(seen, 1))
    finally:
        bar.close()
        for m, mode in modes:
            m.training = mode
    return history


def _mix(core: nn.Module, fn: Callable | None, x: Tensor, y: Tensor, params: dict[str, Any], fraction: float) -> Tensor:
    """The batch with its first ``round(fraction * N)`` images replaced by adversarial examples."""
    k = round(fraction * x.shape[0]) if fn is not None else 0
    if k == 0:
        return x
    x_adv = fn(core, x[:k], y[:k], **params)  # the bare module: no DDP hooks, no collectives
    return torch.cat([x_adv.detach(), x[k:]])


def _describe(attack: str | Callable | None, params: dict[str, Any] | None) -> str:
    if attack is None:
        return ""
    name = attack if isinstance(attack, str) else getattr(attack, "__name__", "attack")
    shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in (params or {}).items() if k != "generator")
    return f"{name}({shown})" if shown else name

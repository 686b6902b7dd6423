"""``advcourse doctor``: the first command an instructor asks a room to run.

Checks versions, the device, that the embedded model loads and gets a shipped photo right,
which offline models are installed, whether torchvision weights can be fetched, and whether notebook widgets are available.
Each line is ``[ok]``, ``[--]`` (optional, missing) or ``[!!]`` (broken).
"""

from __future__ import annotations

import importlib.metadata as md
import platform
import time

__all__ = ["report", "checks"]


def _version(package: str) -> str | None:
    try:
        return md.version(package)
    except md.PackageNotFoundError:
        return None


def _check_model() -> tuple[str, str]:
    from advcourse.models.images import sample_info, samples
    from advcourse.one_call import classify

    start = time.perf_counter()
    name = samples()[0]
    top = classify(name, topk=1)[0]
    took = time.perf_counter() - start
    right = top.index in sample_info(name).labels
    return ("ok" if right else "!!"), f"embedded model: {name} -> {top} in {took:.1f} s" + ("" if right else " (WRONG)")


def _check_offline_models() -> tuple[str, str]:
    import importlib.util

    from advcourse.models.zoo import LITE_VARIANTS

    found = [n for n, v in LITE_VARIANTS.items() if importlib.util.find_spec(v.module) is not None]
    missing = [v.module.replace("_", "-") for n, v in LITE_VARIANTS.items() if n not in found]
    if not missing:
        return "ok", f"offline models: {', '.join(found)}"
    return "!!", f"offline models: {', '.join(found) or 'none'}; missing (pip install): {' '.join(missing)}"


def _check_weights() -> tuple[str, str]:
    import torchvision.models as tvm

    from advcourse.models.zoo import _check_reachable

    url = tvm.ResNet18_Weights.DEFAULT.url
    try:
        _check_reachable(url, timeout=3)
        return "ok", "torchvision weights reachable: resnet18/alexnet can be loaded"
    except OSError as exc:
        return "--", f"torchvision weights unreachable ({type(exc).__name__}); the embedded model still works"


def _check_widgets() -> tuple[str, str]:
    lab = _version("jupyterlab_widgets")
    if _version("ipywidgets") and lab:
        return "ok", f"widgets: ipywidgets {_version('ipywidgets')}, jupyterlab_widgets {lab}"
    return "!!", "widgets: ipywidgets or jupyterlab_widgets missing (pip install ipywidgets)"


def checks() -> list[tuple[str, str]]:
    """(status, message) pairs; status is "ok", "--" (optional) or "!!" (broken)."""
    import torch

    from advcourse.models.zoo import resolve_device

    out = [("ok", f"python {platform.python_version()}, advcourse {_version('advcourse')}, "
                  f"torch {torch.__version__}, torchvision {_version('torchvision')}")]
    device = resolve_device("auto")
    gpu = f" ({torch.cuda.get_device_name(0)})" if device.type == "cuda" else " (no CUDA GPU found)"
    out.append(("ok", f"device: {device}{gpu}, {torch.get_num_threads()} CPU threads"))
    for check in (_check_model, _check_offline_models, _check_weights, _check_widgets):
        try:
            out.append(check())
        except Exception as exc:  # a doctor reports, it does not crash
            out.append(("!!", f"{check.__name__[7:]}: {type(exc).__name__}: {exc}"))
    return out


def report() -> str:
    """All checks as printable lines."""
    return "\n".join(f"[{status}] {message}" for status, message in checks())

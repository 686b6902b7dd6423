"""Runs inside a notebook kernel during the knife-edge audit (``scripts/audit_outputs.py``).

It records, per executed cell, what the audit compares between machines, without changing what the
cell computes:

* every comparison inside an ``assert`` (``a <= b``, ``0.2 < r < 0.8``, ``all(r > t for r in rates)``):
  the values on both sides and the *margin* by which it holds (how far the measured value is from its
  threshold; 0 for a claim that holds at equality), through an IPython AST transformer;
* the top-1 answers of every top-level model call (a module whose forward returns N×K scores), through
  PyTorch's global module hooks, so that when a printed count moves the audit can name the sample
  that crossed over.

``install()`` is the first cell of the audited copy of a notebook; ``dump(path)`` its last.
"""

from __future__ import annotations

import ast
import hashlib
import operator
import pickle
from typing import Any

import torch
from torch.nn.modules import module as _module

_OPS = {ast.Lt: ("<", operator.lt), ast.LtE: ("<=", operator.le), ast.Gt: (">", operator.gt),
        ast.GtE: (">=", operator.ge), ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne),
        ast.In: ("in", lambda a, b: a in b), ast.NotIn: ("not in", lambda a, b: a not in b),
        ast.Is: ("is", operator.is_), ast.IsNot: ("is not", operator.is_not)}
_FUNCS = {sym: fn for sym, fn in _OPS.values()}

#: cells: the sha1 of each executed cell's source, in order; asserts[(cell, line, col)] = record;
#: calls[cell] = top-1 answers of each top-level model call, as int16 bytes.
STATE: dict[str, Any] = {"cells": [], "asserts": {}, "calls": {}}
_depth = [0]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    try:
        import numpy as np

        if isinstance(value, np.generic) and value.size == 1:
            return float(value)
    except ImportError:  # pragma: no cover
        pass
    return None


def _margin(left: float | None, sym: str, right: float | None) -> float | None:
    """How far a numeric comparison is from flipping (positive: holds; 0: at equality)."""
    if left is None or right is None:
        return None
    if sym in ("<", "<="):
        return right - left
    if sym in (">", ">="):
        return left - right
    return None


def compare(cell_key: tuple[int, int], text: str, values: list, syms: list[str]) -> bool:
    """Evaluate a (chained) comparison as Python would, and record its operands and margin."""
    ok, margins = True, []
    for left, sym, right in zip(values, syms, values[1:]):
        holds = bool(_FUNCS[sym](left, right))
        ok = ok and holds
        margins.append(_margin(_number(left), sym, _number(right)))
        if not holds:
            break
    key = (len(STATE["cells"]) - 1, *cell_key)
    record = STATE["asserts"].setdefault(key, {"text": text, "syms": syms, "n": 0, "failed": 0,
                                               "margin": None, "values": None})
    record["n"] += 1
    record["failed"] += not ok
    numeric = [m for m in margins if m is not None]
    worst = min(numeric) if numeric else None
    if worst is not None and (record["margin"] is None or worst < record["margin"]):
        record["margin"] = worst
        record["values"] = [_number(v) for v in values]
    elif record["values"] is None:
        record["values"] = [_number(v) for v in values]
    return ok


class _RecordAsserts(ast.NodeTransformer):
    """``assert a <= b`` becomes ``assert _advcourse_audit.compare(..., [a, b], ["<="])``."""

    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        node.test = self._claims(node.test)
        return node

    def _claims(self, node: ast.expr) -> ast.expr:
        """The comparisons the assert's truth rests on: top-level ones, those joined by and/or/not,
        and the element of ``all(... for ...)``; comparisons inside other calls are left alone."""
        if isinstance(node, ast.Compare):
            return _Comparisons().visit(node)
        if isinstance(node, ast.BoolOp):
            node.values = [self._claims(v) for v in node.values]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            node.operand = self._claims(node.operand)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "all" \
                and len(node.args) == 1 and isinstance(node.args[0], (ast.GeneratorExp, ast.ListComp)):
            node.args[0].elt = self._claims(node.args[0].elt)
        return node


class _Comparisons(ast.NodeTransformer):
    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        text = ast.unparse(node)
        if not all(type(op) in _OPS for op in node.ops):
            return node
        call = ast.Call(
            func=ast.Attribute(value=ast.Name("_advcourse_audit", ast.Load()), attr="compare", ctx=ast.Load()),
            args=[ast.Tuple([ast.Constant(node.lineno), ast.Constant(node.col_offset)], ast.Load()),
                  ast.Constant(text),
                  ast.List([node.left, *node.comparators], ast.Load()),
                  ast.List([ast.Constant(_OPS[type(op)][0]) for op in node.ops], ast.Load())],
            keywords=[])
        return ast.copy_location(call, node)


def _pre_run_cell(info: Any) -> None:
    STATE["cells"].append(hashlib.sha1((info.raw_cell or "").encode()).hexdigest())
    _depth[0] = 0


def _enter(module: torch.nn.Module, args: Any) -> None:
    _depth[0] += 1


def _leave(module: torch.nn.Module, args: Any, out: Any) -> None:
    _depth[0] -= 1
    if _depth[0] == 0 and isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[1] > 1 \
            and out.is_floating_point() and not _inside_transform(out):
        top1 = out.detach().argmax(1).to(torch.int16).cpu().numpy().tobytes()
        STATE["calls"].setdefault(len(STATE["cells"]) - 1, []).append(top1)


def _inside_transform(out: torch.Tensor) -> bool:
    """A call traced by ``torch.vmap``/``torch.func`` (e.g. stacked shadow models) or run on the meta
    device: its output has no values to record (reading them raises)."""
    return out.device.type == "meta" or torch._C._functorch.is_functorch_wrapped_tensor(out)


def install() -> None:
    """Start recording in this kernel (the audited copy's first cell)."""
    ip = get_ipython()  # noqa: F821 (defined inside an IPython kernel)
    import os

    import torch.nn.functional as F

    # PyTorch caps its threads at the number of cores; the audit's machines ask for more on purpose
    wanted = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if wanted and torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    STATE["machine"] = {"capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
                        "nudge": getattr(F.linear, "__advcourse_nudge__", None)}
    ip.user_ns["_advcourse_audit"] = __import__(__name__)
    ip.ast_transformers.append(_RecordAsserts())
    ip.events.register("pre_run_cell", _pre_run_cell)
    STATE["cells"].append("install")  # this cell, which ran before the hook was registered
    _module.register_module_forward_pre_hook(_enter)
    _module.register_module_forward_hook(_leave)


def dump(path: str) -> None:
    """Write what was recorded (the audited copy's last cell)."""
    with open(path, "wb") as f:
        pickle.dump(STATE, f)

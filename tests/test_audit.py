"""The knife-edge audit's parts: the CPU nudge (tests/startup/cpu_nudge.py), the assert probe
(scripts/audit_probe.py) and the audit itself on a small notebook (scripts/audit_outputs.py)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import audit_outputs  # noqa: E402
import audit_probe  # noqa: E402
import cpu_nudge  # noqa: E402  (tests/startup is on sys.path: conftest.py)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 14 * 14, 10))


def _run(net, x):
    x = x.clone().requires_grad_(True)
    out = net(x)
    out[:, 0].sum().backward()
    return out.detach(), x.grad


def test_nudge_is_about_a_millionth_deterministic_and_seeded():
    net, x = _net(), torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    plain_out, plain_grad = _run(net, x)
    with cpu_nudge.machine(1):
        assert cpu_nudge.installed() == 1
        out1, grad1 = _run(net, x)
        again, _ = _run(net, x)
        cpu_nudge.install(2)  # installing again replaces the first nudge, it does not stack on it
        out2, _ = _run(net, x)
    assert cpu_nudge.installed() is None  # the block put the plain functions back
    rel = ((out1 - plain_out) / plain_out).abs()
    assert 1e-7 < rel.max() < 1e-4  # moved, by about the rounding difference of another kernel
    assert torch.equal(out1, again)  # a function of the value: the same machine every run
    assert not torch.equal(out1, out2)  # another seed, another machine
    assert not torch.equal(grad1, plain_grad)  # the backward pass is nudged too
    assert torch.allclose(grad1, plain_grad, rtol=1e-3, atol=1e-6)


def test_nudge_refuses_a_bad_seed():
    with pytest.raises(ValueError, match="seed"):
        cpu_nudge.install(0)


def test_nudge_reaches_every_subprocess_through_the_environment():
    """Notebook kernels are subprocesses: ADVCOURSE_NUDGE turns the nudge on in each of them."""
    code = "import torch.nn.functional as F; print(getattr(F.linear, '__advcourse_nudge__', None))"
    env = {**os.environ, "ADVCOURSE_NUDGE": "2"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.strip() == "2", out.stderr
    env.pop("ADVCOURSE_NUDGE")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.stdout.strip() == "None", out.stderr


def _probe(source: str) -> dict:
    """Run ``source`` with its asserts rewritten by the probe; the records, keyed by assert text."""
    audit_probe.STATE.update(cells=["cell"], asserts={}, calls={})
    tree = audit_probe._RecordAsserts().visit(ast.parse(source))
    exec(compile(ast.fix_missing_locations(tree), "<cell>", "exec"), {"_advcourse_audit": audit_probe})
    return {r["text"]: r for r in audit_probe.STATE["asserts"].values()}


def test_probe_records_each_asserted_value_and_its_margin():
    records = _probe("rates = [0.2, 0.5]\n"
                     "assert max(rates) <= 0.5, 'at equality'\n"
                     "assert 0.1 < min(rates) < 0.4 and len(rates) == 2\n"
                     "assert all(r >= 0.15 for r in rates)\n"
                     "assert sum(r > 0.3 for r in rates) == 1\n")
    assert records["max(rates) <= 0.5"]["margin"] == 0  # holds at exactly its threshold
    assert records["max(rates) <= 0.5"]["values"] == [0.5, 0.5]
    assert records["0.1 < min(rates) < 0.4"]["margin"] == pytest.approx(0.1)
    assert records["len(rates) == 2"]["margin"] is None  # an equality has no margin to measure
    worst = records["r >= 0.15"]
    assert worst["n"] == 2 and worst["margin"] == pytest.approx(0.05) and worst["values"] == [0.2, 0.15]
    assert "r > 0.3" not in records  # inside sum(...): not what the assert's truth rests on
    assert not any(r["failed"] for r in records.values())


def test_probe_keeps_a_failing_assert_failing():
    with pytest.raises(AssertionError, match="too many"):
        _probe("rate = torch_rate = 0.6\nassert rate <= 0.5, 'too many'\n")
    record = audit_probe.STATE["asserts"][(0, 2, 7)]
    assert record["failed"] == 1 and record["margin"] == pytest.approx(-0.1)


def _notebook(path: Path, printed: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("import torch\nnet = torch.nn.Linear(2, 3)\n"
                                          "torch.nn.init.eye_(net.weight); torch.nn.init.zeros_(net.bias)\n"
                                          "x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])\n"
                                          "share = float((net(x).argmax(1) == 0).float().mean())\n"
                                          "print(f'share {share:.0%}')\nassert share <= 0.5"),
                nbformat.v4.new_code_cell("")]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    nbformat.write(nb, path)
    return path


def test_audit_reports_a_moved_output_with_the_sample_and_the_assert_at_its_edge(tmp_path):
    good = _notebook(tmp_path / "good.ipynb", "share 50%\n")
    moved = _notebook(tmp_path / "moved.ipynb", "share 33%\n")
    records = {}
    for machine in ("native", "nudge2"):
        env = {k: v for k, v in os.environ.items() if k != "ADVCOURSE_NUDGE"} | audit_outputs.MACHINES[machine]
        subprocess.run([sys.executable, audit_outputs.__file__, "--run-one", machine, str(good), "--out",
                        str(tmp_path)], check=True, env=env, timeout=300)
        records[machine] = __import__("json").loads((tmp_path / f"good.{machine}.json").read_text())
    assert records["nudge2"]["torch"]["nudge"] == 2 and records["native"]["torch"]["nudge"] is None
    clean = audit_outputs.compare(good, records)
    assert clean["moves"] == []
    (row,) = clean["asserts"]
    assert row["text"] == "share <= 0.5" and row["at_edge"] and row["worst_margin"] == 0
    assert row["machines"]["nudge2"]["values"] == [0.5, 0.5]
    # as if the second sample had crossed over on the nudged machine, and the printed share with it
    records["nudge2"]["calls"]["0"] = ["00000000"]
    records["nudge2"]["outputs"]["0"] = ["[stdout] share 100%\n"]
    report = audit_outputs.compare(good, records)
    assert [(m["machine"], m["stored"], m["now"]) for m in report["moves"]] == [
        ("nudge2", "[stdout] share 50%", "[stdout] share 100%")]
    assert report["moves"][0]["answers"] == "against native: call 0 of 1 (batch of 2): sample 1: 1 -> 0"
    # a notebook that stored another number: every machine moves, and none can be traced against
    moved_report = audit_outputs.compare(moved, records)
    assert {m["machine"] for m in moved_report["moves"]} == {"native", "nudge2"}
    text = audit_outputs.report({"good": report}, ["native", "nudge2"], {}, {"good": records})
    assert "AT EQUALITY" in text and "share 100%" in text and "sample 1: 1 -> 0" in text


def test_near_misses_are_lines_that_used_half_their_tolerance_or_more():
    used = audit_outputs.tolerance_used
    assert used("L2=1.96", "L2=1.97") == pytest.approx(0.01 / 0.0196)  # 1 % of 1.96 is the tolerance
    assert used("prob 99.3%", "prob 99.5%") == pytest.approx(0.2 / 0.993)
    assert used("4.3 on average", "4.2 on average") == 0  # printed coarser than 1 %: a rounding flip
    assert used("17 of 20", "17 of 20") == 0
    assert used("mean 0.0064", "mean 0.0064") == 0

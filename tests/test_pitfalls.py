"""docs/pitfalls.md runs: every code block on the page, in order, in one namespace (the first is the setup).

Each example must do what its text says: an error it shows must be raised with the message its
comment quotes (the parts between ``...``), and the printed numbers must tell the story the page
tells (targeting the true label is refused; the worst case over attacks is no higher than their
average).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "pitfalls.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
SHOWN_ERROR = re.compile(r"except \w+ as err: print\(err\)\s*#\s*(.+)$", re.M)


def _quoted(block: str) -> list[str]:
    """The parts of an error message a block's comment quotes."""
    return [part.strip() for m in SHOWN_ERROR.finditer(block) for part in m.group(1).split("...") if part.strip()]


@pytest.fixture(scope="module")
def outputs(single_thread) -> list[str]:
    namespace: dict = {}
    printed = []
    for block in BLOCKS:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(PAGE), "exec"), namespace)  # noqa: S102 (the page's own examples)
        printed.append(out.getvalue())
    return printed


def test_the_page_has_a_setup_and_six_short_examples():
    assert len(BLOCKS) == 7, len(BLOCKS)
    for block in BLOCKS[1:]:
        assert 2 <= len(block.strip().splitlines()) <= 5, block


@pytest.mark.slow
def test_every_error_shown_is_raised_with_the_message_quoted(outputs):
    shown = [(block, out) for block, out in zip(BLOCKS, outputs) if SHOWN_ERROR.search(block)]
    assert len(shown) == 4  # normalised input, 0-255 pixels, eps=8, the true label as target
    for block, out in shown:
        for part in _quoted(block):
            assert part in out, f"{part!r} not in the printed error {out!r}"


@pytest.mark.slow
def test_targeting_the_true_label_is_refused_and_another_target_runs(outputs):
    out = next(o for o in outputs if "equal the true label" in o)
    assert re.fullmatch(r"\d+% still right", out.strip().splitlines()[-1]), out  # the other targets ran


@pytest.mark.slow
def test_the_worst_case_is_no_better_than_the_average(outputs):
    out = next(o for o in outputs if "worst case" in o)
    average, worst = (int(v) for v in re.findall(r"(\d+)%", out))
    assert worst <= average and worst < 100, out

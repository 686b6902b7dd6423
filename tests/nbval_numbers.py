"""nbval, tolerant of the last printed digit and nothing else.

PyTorch's results differ in their last bits between CPUs (AVX-512, AVX2 or plain kernels), thread
counts and GPUs. The notebooks print numbers at the precision a lesson needs, but a value that
sits on a rounding boundary can still print as 3.76 on one machine and 3.77 on another. Strict
nbval would call that a failure, although nothing the course computes has changed.

This plugin makes one exception to strict comparison. A stored text and a newly computed one
count as equal when

* they are identical once every number is taken out (the words, the layout, the symbols), and
* every pair of numbers is equal, or both are written with decimals and differ by at most one
  unit in the last printed decimal or by 1 % of their size, whichever is larger (``3.76`` vs
  ``3.77``, ``43.9%`` vs ``44.0%``, ``L2=1.966`` vs ``L2=1.976``, ``99.8%`` vs ``100.0%``).
  Iterated sign-gradient attacks amplify last-bit differences (a gradient entry near zero flips
  its sign), so their losses, norms and confidences differ by a fraction of a percent between CPUs.

Integers (counts such as ``17 of 20``) must match exactly, and so must anything else: a number
that moves by more than that, a changed word, a missing line. So a real
change still fails (``tests/test_nbval_numbers.py`` alters a stored number by 5 % and checks that
nbval reports it), while float noise in the last printed digit passes.

Loaded for every pytest run by the root ``conftest.py``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

# A number as printed: optional sign (ASCII or Unicode minus), digits, optional decimals and exponent;
# not a digit inside a name ("lite0", "00_welcome", "L2"). A unit may follow ("9x", "43.9%").
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\d_]|\.\d)")


def _parse(token: str) -> tuple[Decimal, int] | None:
    """The value of a printed number and its unit in the last place (as a power of ten), or None."""
    text = token.replace("−", "-")
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    if "." not in mantissa:
        return None  # an integer, or one significant digit ("6e-08"): compared exactly
    return Decimal(text), int(exponent or 0) - decimals


#: Relative slack for decimal numbers (a 5 % change must still fail: tests/test_nbval_numbers.py).
RELATIVE = Decimal("0.01")


def numbers_close(ref: str, test: str) -> bool:
    """True when two printed numbers are equal, or both decimal and within one unit of the last
    printed decimal or 1 % of the stored value, whichever is larger. Integers must be equal."""
    if ref == test:
        return True
    a, b = _parse(ref), _parse(test)
    if a is None or b is None:
        return False
    unit = Decimal(1).scaleb(max(a[1], b[1]))
    return abs(a[0] - b[0]) <= max(unit, RELATIVE * abs(a[0]))


def texts_match(ref: str, test: str) -> bool:
    """True when ``test`` equals ``ref`` up to last-digit differences of its decimal numbers."""
    if ref == test:
        return True
    if NUMBER.sub("#", ref) != NUMBER.sub("#", test):
        return False
    return all(numbers_close(r, t) for r, t in zip(NUMBER.findall(ref), NUMBER.findall(test)))


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def reconcile(test_outputs: list, ref_outputs: list) -> None:
    """Where a new output matches the stored one up to last-digit noise, copy the stored text.

    Works in place on the newly computed outputs, field by field (stream text, and each MIME type
    of display data); everything else is left for nbval's own strict comparison.
    """
    for test, ref in zip(test_outputs, ref_outputs):
        if test.get("output_type") != ref.get("output_type"):
            continue
        if "text" in test and "text" in ref:
            a, b = _text(ref["text"]), _text(test["text"])
            if a is not None and b is not None and a != b and texts_match(a, b):
                test["text"] = ref["text"]
        for mime, value in test.get("data", {}).items():
            stored = ref.get("data", {}).get(mime)
            a, b = _text(stored), _text(value)
            if a is not None and b is not None and a != b and texts_match(a, b):
                test["data"][mime] = stored


def install() -> None:
    """Wrap nbval's per-cell comparison with :func:`reconcile` (idempotent)."""
    from nbval.plugin import IPyNbCell

    original = IPyNbCell.compare_outputs
    if getattr(original, "_last_digit_tolerant", False):
        return

    def compare_outputs(self, test, ref, skip_compare=None):
        reconcile(test, ref)
        return original(self, test, ref, skip_compare)

    compare_outputs._last_digit_tolerant = True
    IPyNbCell.compare_outputs = compare_outputs


def pytest_configure(config: Any) -> None:
    """Also usable as a plugin on its own: ``pytest -p nbval_numbers --nbval ...``."""
    install()

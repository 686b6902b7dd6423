"""The checked exercises of 02_noise: right answers pass, wrong ones get a hint."""

from __future__ import annotations

import math

from advcourse import load_image
from advcourse.exercises.noise import check_matching_sigma, check_noise_threat_model, check_smallest_eps
from advcourse.foundations.noise_study import smallest_flipping_eps

LEVELS = [0.0, 8 / 255, 24 / 255, 64 / 255, 128 / 255]


def test_check_smallest_eps_right_and_wrong(model):
    truth = smallest_flipping_eps(model, load_image("chelsea_cat"), LEVELS)
    assert truth is not None and 0 < truth < LEVELS[-1]
    kw = {"model": model, "photo": "chelsea_cat", "levels": LEVELS}
    ok = check_smallest_eps(truth, **kw)
    assert ok and f"{truth * 255:g}/255" in ok.message
    i = LEVELS.index(truth)
    too_big = check_smallest_eps(LEVELS[i + 1], **kw)
    assert not too_big and too_big.message.startswith("too big")
    assert f"{truth * 255:g}" not in too_big.message  # a nudge, not the answer
    too_small = check_smallest_eps(LEVELS[i - 1], **kw)
    assert not too_small and too_small.message.startswith("too small")
    assert "not on the grid" in check_smallest_eps(5 / 255, **kw).message
    assert "pixel units" in check_smallest_eps(truth * 255, **kw).message
    assert "set answer" in check_smallest_eps(..., **kw).message
    assert "expected a number" in check_smallest_eps("24/255", **kw).message
    assert not check_smallest_eps(None, **kw)


def test_check_smallest_eps_when_nothing_flips(model):
    kw = {"model": model, "photo": "chelsea_cat", "levels": [0.0, 1 / 255]}
    assert check_smallest_eps(None, **kw)
    wrong = check_smallest_eps(1 / 255, **kw)
    assert not wrong and "None" in wrong.message


def test_check_matching_sigma():
    eps = 16 / 255
    assert check_matching_sigma(eps / math.sqrt(3), eps=eps)
    assert check_matching_sigma(8 / 255 / math.sqrt(3), eps=8 / 255)
    assert "variance" in check_matching_sigma(eps, eps=eps).message
    assert "mean of |value|" in check_matching_sigma(eps / 2, eps=eps).message
    assert check_matching_sigma(eps / 10, eps=eps).message.startswith("too small")
    assert check_matching_sigma(3 * eps, eps=eps).message.startswith("too big")
    assert not check_matching_sigma(..., eps=eps) and not check_matching_sigma("eps/3", eps=eps)


def test_check_noise_threat_model():
    assert check_noise_threat_model(("black", "untargeted"))
    assert check_noise_threat_model("black box, untargeted")
    assert "weights" in check_noise_threat_model(("white", "untargeted")).message
    assert "choose which wrong label" in check_noise_threat_model(("black", "targeted")).message
    assert not check_noise_threat_model(...) and not check_noise_threat_model("grey")

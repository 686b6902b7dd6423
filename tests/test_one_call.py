"""classify() and attack(): the one-call API of the course."""

from __future__ import annotations

import pytest
import torch

from advcourse.models.images import load_image, sample_info
from advcourse.one_call import AttackResult, Prediction, Predictions, attack, classify, predict

CAT = "chelsea_cat"


def test_classify_returns_sorted_named_tuples(model):
    preds = classify(CAT, model=model, topk=5)
    assert isinstance(preds, Predictions) and len(preds) == 5
    assert all(isinstance(p, Prediction) for p in preds)
    probs = [p.prob for p in preds]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    assert preds[0].index in sample_info(CAT).labels
    assert preds[0].label == preds[0][0]
    assert "<table>" in preds._repr_html_() and preds[0].label in str(preds)


def test_classify_by_name_uses_the_embedded_model():
    assert classify(CAT, topk=1, device="cpu")[0].index in sample_info(CAT).labels


def test_classify_accepts_a_tensor(model):
    x = load_image(CAT)
    assert classify(x, model=model)[0] == classify(CAT, model=model)[0]


def test_classify_bad_arguments(model):
    with pytest.raises(ValueError, match="topk"):
        classify(CAT, model=model, topk=0)
    with pytest.raises(TypeError, match="model"):
        classify(CAT, model=3)
    with pytest.raises(ValueError, match="src"):
        classify(torch.rand(2, 3, 32, 32), model=model)


def test_predict_leaves_train_mode_alone():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 4), torch.nn.Dropout(0.5)).train()
    out = predict(net, torch.rand(3, 3, 2, 2), topk=2)
    assert net.training and len(out) == 3
    assert [len(p) for p in out] == [2, 2, 2]


def test_attack_fgsm_result(model):
    result = attack(CAT, "fgsm", model=model, eps=4 / 255)
    assert isinstance(result, AttackResult)
    assert result.x.shape == result.x_adv.shape == (1, 3, 224, 224)
    assert result.linf <= 4 / 255 + 1e-6 and result.l2 > 0
    assert result.before[0].index in sample_info(CAT).labels
    assert result.success == (result.after[0].index != result.before[0].index)
    assert "fgsm" in str(result)
    fig = result.figure()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("original") and str(result.before[0]) in titles[0]
    assert str(result.after[0]) in titles[2] and "L∞=4.0/255" in titles[1]
    assert result._repr_png_().startswith(b"\x89PNG")


def test_attack_targeted_by_class_name(model):
    result = attack(CAT, "pgd", model=model, target="neck brace", eps=8 / 255, step_size=2 / 255, steps=10)
    assert result.target == 678 and result.success and result.after[0].label == "neck brace"


def test_attack_black_box_needs_no_model_arguments(model):
    result = attack(CAT, "semantic", model=model)
    assert torch.allclose(result.x_adv, 1 - result.x)


def test_attack_bad_arguments(model):
    with pytest.raises(ValueError, match="attack|name"):
        attack(CAT, "nonsense", model=model)
    with pytest.raises(ValueError, match="target"):
        attack(CAT, "deepfool", model=model, target="neck brace")
    with pytest.raises(ValueError, match="target"):
        attack(CAT, "fgsm", model=model, target=1000)
    with pytest.raises(ValueError, match="eps"):
        attack(CAT, "fgsm", model=model, eps=-1.0)


def test_attack_result_saves_figure(model, tmp_path):
    out = tmp_path / "fig.png"
    attack(CAT, "noise", model=model, eps=8 / 255).save(str(out))
    assert out.read_bytes().startswith(b"\x89PNG")

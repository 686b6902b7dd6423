"""The advcourse command line: tables and figures, one-line errors, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from advcourse.cli import main, parse_number


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_parse_number():
    assert parse_number("8/255") == pytest.approx(8 / 255)
    assert parse_number("0.5") == 0.5
    for bad in ("eight", "1/0", ""):
        with pytest.raises(Exception, match="fraction"):
            parse_number(bad)


def test_classify_prints_a_table(capsys):
    code, out, _ = run(capsys, "classify", "chelsea_cat", "--topk", "3", "--device", "cpu")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 4 and "prob" in lines[0] and "cat" in out


def test_attack_writes_figure(capsys, tmp_path):
    fig = tmp_path / "a.png"
    code, out, _ = run(capsys, "attack", "chelsea_cat", "--attack", "fgsm", "--eps", "2/255", "--out", str(fig),
                       "--device", "cpu")
    assert code == 0 and fig.read_bytes().startswith(b"\x89PNG") and "fgsm:" in out


def test_targeted_attack_by_name(capsys, tmp_path):
    code, out, _ = run(capsys, "attack", "chelsea_cat", "--attack", "pgd", "--eps", "8/255", "--step-size", "2/255",
                       "--steps", "10", "--target", "neck brace", "--out", str(tmp_path / "t.png"), "--device", "cpu")
    assert code == 0 and "neck brace" in out


def test_samples_lists_photos(capsys):
    code, out, _ = run(capsys, "samples")
    assert code == 0 and "chelsea_cat" in out


@pytest.mark.parametrize("argv, message", [
    (["attack", "chelsea_cat", "--eps", "-1"], "--eps: must be >= 0"),
    (["attack", "chelsea_cat", "--eps", "two"], "fraction like 8/255"),
    (["attack", "chelsea_cat", "--attack", "zap"], "zap"),
    (["attack", "chelsea_cat", "--target", "neckbrace"], "did you mean 'neck brace'"),
    (["attack", "chelsea_cat", "--steps", "-3", "--attack", "pgd"], "steps"),
    (["classify", "/no/such/file.jpg"], "no such file"),
    (["classify", "chelsea_cat", "--model", "vit_h_14"], "unknown model"),
    (["classify", "chelsea_cat", "--topk", "0"], "topk"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_give_one_line_and_status_2(capsys, argv, message, tmp_path):
    code, out, err = run_or_exit(capsys, argv + (["--out", str(tmp_path / "x.png")] if argv[0] == "attack" else []))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def run_or_exit(capsys, argv):
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse errors exit
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def test_console_script_entry_point_runs():
    """The installed `advcourse` command: a real subprocess, an error, no traceback."""
    out = subprocess.run([sys.executable, "-m", "advcourse.cli", "attack", "chelsea_cat", "--eps", "-2/255"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stderr.startswith("advcourse: error:") and "Traceback" not in out.stderr


def test_names_checked_before_torch_match_the_registries():
    """The command line checks attack and model names without importing torch; they must agree."""
    from advcourse.attacks import ATTACKS
    from advcourse.models.catalog import ATTACK_NAMES, MODEL_NAMES
    from advcourse.models.zoo import available_models

    assert ATTACK_NAMES == tuple(ATTACKS) and list(MODEL_NAMES) == available_models()


def test_help_does_not_import_torch():
    code = "import sys; from advcourse.cli import main\ntry:\n main(['--help'])\nexcept SystemExit: pass\n" \
           "assert 'torch' not in sys.modules, 'torch imported'"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("argv", [
    ["attack", "chelsea_cat", "--out", "/tmp"],                       # a folder (matplotlib would write /tmp.png)
    ["attack", "chelsea_cat", "--eps", "8"],                          # 8 meant 8/255
    ["attack", "chelsa_cat"],                                          # a typo of a sample name
    ["attack", "chelsea_cat", "--attack", "pgd", "--steps", "10000000"],
])
def test_mistakes_are_reported_before_any_work(argv):
    """Checked before PyTorch is even imported: the answer comes at once, and nothing ran."""
    code = ("import sys; from advcourse.cli import main\ntry:\n status = main(sys.argv[1:])\n"
            "except SystemExit as stop:\n status = stop.code\nassert 'torch' not in sys.modules\nsys.exit(status)")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("advcourse: error:") and len(out.stderr.strip().splitlines()) == 1


def test_seed_makes_pgd_repeatable(capsys, tmp_path):
    argv = ["attack", "chelsea_cat", "--attack", "pgd", "--eps", "2/255", "--step-size", "1/255", "--steps", "2",
            "--device", "cpu", "--out", str(tmp_path / "p.png")]
    first = run(capsys, *argv, "--seed", "1")[1]
    assert run(capsys, *argv, "--seed", "1")[1] == first


def test_every_registered_attack_has_command_line_options_and_defaults():
    from advcourse.models.catalog import ATTACK_NAMES
    from advcourse.cli import _OPTIONS
    from advcourse.one_call import DEFAULT_PARAMS

    assert set(_OPTIONS) == set(ATTACK_NAMES) == set(DEFAULT_PARAMS)

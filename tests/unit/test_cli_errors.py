"""Every failure a user can cause in ``lmac <command>`` is one stderr line, ``lmac: error: ...``, exit 2.

Each case drives :func:`lmac.cli.main` in-process with one bad input (option, config, path, device,
digest, URL, checkpoint) and checks that the one line names the offending file, key or value, and,
where the step would write, that nothing was written. ``lmac explain`` has its own tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from esc50_fixture import serve_files, write_config  # noqa: E402
from model_fixture import TINY_TD

from lmac.classifier.model import load_classifier  # noqa: E402
from lmac.cli import main  # noqa: E402
from lmac.explainers.lmac import LmacExplainer  # noqa: E402
from lmac.explainers.lmac_td import build_lmac_td  # noqa: E402

TINY = Path(__file__).resolve().parents[1] / "workflow" / "tiny.yaml"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def tiny(tiny_prepared, tmp_path_factory) -> dict:
    """A prepared dataset, a random classifier, and L-MAC / L-MAC FT / LMAC-TD checkpoints for it."""
    root = tmp_path_factory.mktemp("cli_errors")
    paths = {**{k: Path(v) for k, v in tiny_prepared.items()}, "root": root}
    classifier = load_classifier(paths["classifier"])
    LmacExplainer(classifier).save(root / "lmac_trained.pt", meta={"method": "lmac"})
    LmacExplainer(classifier).save(root / "lmac_ft.pt", meta={"method": "lmac_ft"})
    torch.manual_seed(0)
    build_lmac_td(classifier, TINY_TD, "nov2024", 0.75).save(root / "lmac_td_a0.75.pt")
    (root / "afile").write_text("a file where a folder is expected\n")
    return {
        **paths,
        "lmac_trained": root / "lmac_trained.pt",
        "lmac_ft": root / "lmac_ft.pt",
        "lmac_td": root / "lmac_td_a0.75.pt",
        "afile": root / "afile",
    }


def error_line(capsys, *argv, config: Path | None = TINY, alone: bool = True) -> str:
    """Run ``lmac [--config CONFIG] ARGV``; assert exit 2 and exactly one stderr line; return it.

    ``alone=False`` where the step legitimately logged progress before failing: the error is then
    the last line and the only one that starts ``lmac: error:``.
    """
    args = ([] if config is None else ["--config", str(config)]) + [str(a) for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    out = capsys.readouterr()
    assert exit_.value.code == 2, out.err
    assert "Traceback" not in out.err + out.out, out.err
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 or not alone, out.err
    assert [line for line in lines if line.startswith("lmac: error: ")] == lines[-1:], out.err
    return lines[-1]


def assert_error(capsys, needles, *argv, config: Path | None = TINY, alone: bool = True) -> str:
    line = error_line(capsys, *argv, config=config, alone=alone)
    for needle in [needles] if isinstance(needles, str) else needles:
        assert str(needle) in line, line
    return line


# --------------------------------------------------------------------------------------------
# options (argparse), config file, log file: every command


@pytest.mark.parametrize(
    "argv,needles",
    [
        ([], "the following arguments are required: command"),
        (["bogus"], ["invalid choice: 'bogus'", "see lmac --help"]),
        (["synthesize", "--out", "x", "--bogus", "1"], "unrecognized arguments: --bogus 1"),
        (
            ["evaluate", "--data", "x"],
            [
                "evaluate: the following arguments are required: --classifier, --method, --out",
                "see lmac evaluate --help",
            ],
        ),
        (
            ["evaluate", "--data", "d", "--classifier", "c", "--method", "lmac", "--out", "o", "--condition", "noisy"],
            "evaluate: argument --condition: invalid choice: 'noisy'",
        ),
        (
            ["evaluate", "--data", "d", "--classifier", "c", "--method", "lmac", "--out", "o", "--split", "dev"],
            "argument --split: invalid choice: 'dev'",
        ),
        (
            ["download", "musan", "--out", "o", "--archive", "a.zip"],
            "download: argument dataset: invalid choice: 'musan'",
        ),
        (["explain", "a.wav", "--out", "o", "--top-k", "many"], "explain: argument --top-k: invalid int value: 'many'"),
    ],
)
def test_bad_options(capsys, tmp_path, monkeypatch, argv, needles):
    monkeypatch.chdir(tmp_path)
    assert_error(capsys, needles, *argv)
    assert list(tmp_path.iterdir()) == []


def test_config_file_missing_folder_binary_invalid(capsys, tmp_path):
    argv = ["synthesize", "--out", tmp_path / "raw"]
    assert_error(capsys, f"{tmp_path / 'missing.yaml'}: config file not found", *argv, config=tmp_path / "missing.yaml")
    assert_error(capsys, f"{tmp_path}: is a folder, not a config file", *argv, config=tmp_path)
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00seed")
    assert_error(capsys, "binary.yaml: not a text file", *argv, config=tmp_path / "binary.yaml")
    (tmp_path / "broken.yaml").write_text("seed: [1,\n")
    assert_error(capsys, "broken.yaml: not valid YAML", *argv, config=tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- seed\n")
    assert_error(capsys, "config key '(top level)'", *argv, config=tmp_path / "list.yaml")
    assert not (tmp_path / "raw").exists()


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"classifier.width": 2.0}, "config key 'classifier.width'"),
        ({"device": "gpu"}, "config key 'device'"),
        ({"dataset.esc50.sha256": "abc"}, "config key 'dataset.esc50.sha256'"),
        ({"dataset.wham.url": "ftp://example.org/wham.zip"}, "config key 'dataset.wham.url'"),
        ({"lmac.mask_domian": "log1p"}, "'mask_domian' was unexpected"),
    ],
)
def test_config_failing_the_schema(capsys, tmp_path, change, needle):
    config = write_config(tmp_path / "bad.yaml", **change)
    assert_error(capsys, needle, "synthesize", "--out", tmp_path / "raw", config=config)
    assert not (tmp_path / "raw").exists()


def test_log_file_that_cannot_be_written(capsys, tiny, tmp_path):
    afile = tiny["afile"]
    assert_error(
        capsys,
        f"--log {afile}/x.log: lies below {afile}, which is a file, not a folder",
        "--log",
        afile / "x.log",
        "synthesize",
        "--out",
        tmp_path / "raw",
        config=None,
    )
    assert_error(
        capsys,
        f"--log {tmp_path}: is a folder, not a file",
        "--log",
        tmp_path,
        "synthesize",
        "--out",
        tmp_path / "raw",
        config=None,
    )
    assert not (tmp_path / "raw").exists()


# --------------------------------------------------------------------------------------------
# output folders (every command that writes one)


def _commands(tiny, out) -> dict[str, list]:
    return {
        "synthesize": ["synthesize", "--out", out],
        "prepare": ["prepare", "--raw", tiny["raw"], "--out", out],
        "train-classifier": ["train-classifier", "--data", tiny["prepared"], "--out", out, "--device", "cpu"],
        "train-lmac": ["train-lmac", "--data", tiny["prepared"], "--classifier", tiny["classifier"], "--out", out],
        "train-lmac-ft": [
            "train-lmac-ft",
            "--data",
            tiny["prepared"],
            "--classifier",
            tiny["classifier"],
            "--init",
            tiny["lmac_trained"],
            "--out",
            out,
        ],
        "train-lmac-td": [
            "train-lmac-td",
            "--data",
            tiny["prepared"],
            "--classifier",
            tiny["classifier"],
            "--alpha",
            "0.75",
            "--out",
            out,
        ],
        "pretrain-lmac-td-ed": ["pretrain-lmac-td-ed", "--data", tiny["prepared"], "--out", out],
        "evaluate": [
            "evaluate",
            "--data",
            tiny["prepared"],
            "--classifier",
            tiny["classifier"],
            "--method",
            "saliency",
            "--out",
            out,
        ],
        "download-esc50": [
            "download-esc50",
            "--url",
            "http://127.0.0.1:9/x.zip",
            "--archive",
            tiny["root"] / "dl" / "a.zip",
            "--out",
            out,
        ],
        "download": [
            "download",
            "wham",
            "--url",
            "http://127.0.0.1:9/x.zip",
            "--archive",
            tiny["root"] / "dl" / "a.zip",
            "--out",
            out,
        ],
    }


COMMANDS = list(_commands({k: Path() for k in ("root", "raw", "prepared", "classifier", "lmac_trained")}, Path("o")))


@pytest.mark.parametrize("command", COMMANDS)
def test_out_that_is_a_file(capsys, tiny, command):
    afile = tiny["afile"]
    assert_error(capsys, f"--out {afile}: is a file, not a folder", *_commands(tiny, afile)[command])
    assert afile.read_text().startswith("a file")


@pytest.mark.parametrize("command", COMMANDS)
def test_out_below_a_file(capsys, tiny, command):
    out = tiny["afile"] / "sub" / "out"
    assert_error(
        capsys,
        f"--out {out}: lies below {tiny['afile']}, which is a file, not a folder",
        *_commands(tiny, out)[command],
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_out_not_writable(capsys, tiny, tmp_path, monkeypatch, command):
    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    # the tests may run as root, for whom no mode bit refuses a write: deny it where it is asked
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != locked and real(p, mode, **kw))
    out = locked / "out"
    line = error_line(capsys, *_commands(tiny, out)[command])
    assert f"{out}: cannot write in {locked} (permission denied)" in line, line
    assert list(locked.iterdir()) == []


# --------------------------------------------------------------------------------------------
# devices (every command that trains or evaluates)


@pytest.mark.parametrize(
    "device,needle",
    [
        ("foo", "device 'foo': not a device lmac runs on (use auto, cpu, cuda or cuda:N)"),
        ("cuda:x", "device 'cuda:x': not a device lmac runs on"),
        ("mps", "device 'mps': not a device lmac runs on"),
        ("cuda", "device 'cuda' requested but no CUDA GPU is available (use auto or cpu)"),
        ("cuda:7", "device 'cuda:7': this machine has 1 CUDA GPU(s)"),
    ],
)
@pytest.mark.parametrize(
    "command", ["train-classifier", "train-lmac", "train-lmac-ft", "train-lmac-td", "pretrain-lmac-td-ed", "evaluate"]
)
def test_bad_device(capsys, tiny, tmp_path, monkeypatch, device, needle, command):
    if device == "cuda:7":
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    else:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    argv = [a for a in _commands(tiny, tmp_path / "out")[command] if a != "--device" and a != "cpu"]
    assert_error(capsys, needle, *argv, "--device", device)
    assert not (tmp_path / "out").exists()


def test_bad_device_from_the_config(capsys, tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = write_config(tmp_path / "gpu.yaml", device="cuda:1")
    assert_error(
        capsys,
        "device 'cuda:1' requested but no CUDA GPU",
        "train-lmac",
        "--data",
        tiny["prepared"],
        "--classifier",
        tiny["classifier"],
        "--out",
        tmp_path / "out",
        config=config,
    )


# --------------------------------------------------------------------------------------------
# download-esc50 and download


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "x.zip").write_bytes(b"not really a zip")
    with serve_files(folder) as (url, stats):
        yield url, stats


@pytest.mark.parametrize("command", [["download-esc50"], ["download", "wham"], ["download", "ljspeech"]])
@pytest.mark.parametrize(
    "sha,needle",
    [
        ("xyz", "--sha256 'xyz': not a SHA-256 digest (not hexadecimal; expected 64 hexadecimal digits)"),
        ("ab" * 31, f"--sha256 '{'ab' * 31}': not a SHA-256 digest (62 hexadecimal digits, not 64"),
        ("", "--sha256 '': not a SHA-256 digest (0 hexadecimal digits"),
    ],
)
def test_malformed_sha256_before_any_byte(capsys, tmp_path, served, command, sha, needle):
    url, stats = served
    assert_error(
        capsys,
        needle,
        *command,
        "--url",
        f"{url}/x.zip",
        "--sha256",
        sha,
        "--archive",
        tmp_path / "dl" / "x.zip",
        "--out",
        tmp_path / "data",
    )
    assert stats.count == 0 and not (tmp_path / "dl").exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.org/x.zip", "http:///x.zip", "/abs/path.zip"])
def test_url_of_another_kind(capsys, tmp_path, url):
    assert_error(
        capsys,
        f"--url {url!r}: not a URL lmac downloads from (http://, https:// or file://)",
        "download",
        "ljspeech",
        "--url",
        url,
        "--archive",
        tmp_path / "x.zip",
        "--out",
        tmp_path / "data",
    )
    assert list(tmp_path.iterdir()) == []


def test_archive_that_is_a_folder_or_below_a_file(capsys, tiny, tmp_path, served):
    url, stats = served
    argv = ["download-esc50", "--url", f"{url}/x.zip", "--out", tmp_path / "data"]
    assert_error(capsys, f"--archive {tmp_path}: is a folder, not a file", *argv, "--archive", tmp_path)
    assert_error(
        capsys,
        f"--archive {tiny['afile']}/x.zip: lies below {tiny['afile']}",
        *argv,
        "--archive",
        tiny["afile"] / "x.zip",
    )
    assert stats.count == 0


def test_missing_local_archive_and_404(capsys, tmp_path, served):
    url, stats = served
    missing = tmp_path / "missing.zip"
    assert_error(
        capsys,
        [f"download of {missing.as_uri()} failed", str(missing)],
        "download-esc50",
        "--url",
        missing.as_uri(),
        "--archive",
        tmp_path / "dl" / "x.zip",
        "--out",
        tmp_path / "data",
    )
    assert_error(
        capsys,
        [f"download of {url}/gone.zip failed: HTTP 404"],
        "download",
        "wham",
        "--url",
        f"{url}/gone.zip",
        "--archive",
        tmp_path / "dl" / "x.zip",
        "--out",
        tmp_path / "data",
    )
    assert stats.count == 1 and not (tmp_path / "data").exists()


def test_occupied_out_before_downloading(capsys, tmp_path, served):
    url, stats = served
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "notes.txt").write_text("mine")
    assert_error(
        capsys,
        f"{tmp_path / 'data'} exists but has no meta/esc50.csv; remove it and rerun",
        "download-esc50",
        "--url",
        f"{url}/x.zip",
        "--archive",
        tmp_path / "x.zip",
        "--out",
        tmp_path / "data",
    )
    assert stats.count == 0 and (tmp_path / "data" / "notes.txt").read_text() == "mine"


def test_archive_that_is_no_archive(capsys, tmp_path, served):
    url, _ = served
    line = assert_error(
        capsys,
        "x.zip: corrupt or unreadable zip archive",
        "download",
        "wham",
        "--url",
        f"{url}/x.zip",
        "--archive",
        tmp_path / "x.zip",
        "--out",
        tmp_path / "wham",
        alone=False,
    )  # after the download
    assert "BadZipFile" in line and not (tmp_path / "wham").exists()


# --------------------------------------------------------------------------------------------
# prepare


def test_prepare_inputs(capsys, tiny, tmp_path):
    assert_error(
        capsys,
        f"--raw {tmp_path / 'nothing'}: no such folder",
        "prepare",
        "--raw",
        tmp_path / "nothing",
        "--out",
        tmp_path / "out",
    )
    (tmp_path / "empty").mkdir()
    assert_error(
        capsys,
        f"{tmp_path / 'empty' / 'meta' / 'esc50.csv'}: no such file",
        "prepare",
        "--raw",
        tmp_path / "empty",
        "--out",
        tmp_path / "out",
    )
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# train-classifier, train-lmac, train-lmac-ft: data and checkpoints


def _broken_copy(tiny, tmp_path) -> Path:
    import shutil

    data = Path(shutil.copytree(tiny["prepared"], tmp_path / "prepared"))
    (data / "manifest.csv").write_text('index,id\n"unclosed\n')
    return data


def _corrupt(path: Path, dest: Path, change) -> Path:
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, dest)
    return dest


def test_train_classifier_data_and_init(capsys, tiny, tmp_path):
    argv = ["train-classifier", "--out", tmp_path / "out", "--device", "cpu"]
    assert_error(
        capsys, f"{tmp_path / 'none'}: not a prepared dataset (no audio.npy", *argv, "--data", tmp_path / "none"
    )
    assert_error(capsys, "manifest.csv: not a readable csv", *argv, "--data", _broken_copy(tiny, tmp_path))
    config = write_config(tmp_path / "init.yaml", **{"classifier.init_checkpoint": str(tmp_path / "sb.ckpt")})
    assert_error(
        capsys, f"{tmp_path / 'sb.ckpt'}: checkpoint not found", *argv, "--data", tiny["prepared"], config=config
    )
    assert not (tmp_path / "out").exists()


def test_train_lmac_classifier_checkpoints(capsys, tiny, tmp_path):
    argv = ["train-lmac", "--data", tiny["prepared"], "--out", tmp_path / "out", "--device", "cpu"]
    clf = tiny["classifier"]
    cases = [
        (tmp_path / "missing.pt", "missing.pt: checkpoint not found"),
        (tiny["lmac"], "is a 'lmac' checkpoint, expected 'classifier'"),
        (
            _corrupt(clf, tmp_path / "noclasses.pt", lambda p: p["config"].pop("classes")),
            "noclasses.pt: checkpoint config lacks key 'classes' (a classifier checkpoint from another version?)",
        ),
        (
            _corrupt(clf, tmp_path / "extra.pt", lambda p: p["state_dict"].update({"net.extra": torch.ones(1)})),
            "extra.pt: checkpoint has unexpected weight 'net.extra'",
        ),
        (
            _corrupt(
                clf, tmp_path / "shape.pt", lambda p: p["state_dict"].update({"net.classifier.weight": torch.ones(2)})
            ),
            "shape.pt: checkpoint weight 'net.classifier.weight' has shape (2,), the model needs (3, 128)",
        ),
    ]
    for path, needle in cases:
        assert_error(capsys, needle, *argv, "--classifier", path)
    assert not (tmp_path / "out").exists()


def train_argv(command: str, tiny: dict, out) -> list:
    """A training command on the tiny data and classifier, writing to ``out`` on the CPU."""
    return [command, "--data", tiny["prepared"], "--classifier", tiny["classifier"], "--out", out, "--device", "cpu"]


def test_train_lmac_noise_folders(capsys, tiny, tmp_path):
    argv = train_argv("train-lmac", tiny, tmp_path / "out")
    assert_error(capsys, f"--wham {tmp_path / 'wham'}: no such folder", *argv, "--wham", tmp_path / "wham")
    config = write_config(tmp_path / "wham.yaml", **{"noise.source": "wham"})
    assert_error(capsys, "noise.source: 'wham' needs the extracted WHAM! folder", *argv, config=config)
    (tmp_path / "wham").mkdir()
    assert_error(capsys, f"{tmp_path / 'wham'}: no tr/ folder", *argv, "--wham", tmp_path / "wham", config=config)
    assert not (tmp_path / "out").exists()


def test_train_lmac_ft_init(capsys, tiny, tmp_path):
    argv = train_argv("train-lmac-ft", tiny, tmp_path / "out")
    lmac = tiny["lmac_trained"]
    cases = [
        (tmp_path / "missing.pt", "missing.pt: trained L-MAC checkpoint not found"),
        (tiny["classifier"], "is a 'classifier' checkpoint, expected 'lmac'"),
        (tiny["lmac_td"], "is a 'lmac_td' checkpoint, expected 'lmac'"),
        (
            _corrupt(lmac, tmp_path / "model.pt", lambda p: p["config"].pop("mask_domain")),
            f"{tmp_path / 'model.pt'}: checkpoint config lacks key 'mask_domain' (an L-MAC checkpoint from another version?)",
        ),
        (
            _corrupt(lmac, tmp_path / "missing_w.pt", lambda p: p["state_dict"].pop("convt1.weight")),
            "missing_w.pt: checkpoint lacks weight 'convt1.weight'",
        ),
        (
            _corrupt(lmac, tmp_path / "wide.pt", lambda p: p["config"].update(width=1.0)),
            "wide.pt: decoder was trained for a width-1.0 classifier",
        ),
    ]
    for path, needle in cases:
        assert_error(capsys, needle, *argv, "--init", path)
    config = write_config(tmp_path / "quiet.yaml", **{"lmac.noise": False})
    assert_error(capsys, "guided fine-tuning needs noisy inputs", *argv, "--init", lmac, config=config)
    assert not (tmp_path / "out").exists()


def test_train_lmac_td_alpha_and_encoder_decoder(capsys, tiny, tmp_path):
    argv = train_argv("train-lmac-td", tiny, tmp_path / "out")
    assert_error(capsys, "train-lmac-td: the following arguments are required: --alpha", *argv)
    assert_error(capsys, "argument --alpha: invalid float value: 'high'", *argv, "--alpha", "high")
    # the tiny config asks for the pre-trained pair (lmac_td.encoder_decoder.pretrain: true), as the workflow does
    assert_error(
        capsys,
        "lmac_td.encoder_decoder.pretrain is true but no pre-trained encoder/decoder is given "
        "(train one with lmac pretrain-lmac-td-ed",
        *argv,
        "--alpha",
        "0.75",
    )
    missing = tmp_path / "ed.pt"
    assert_error(capsys, f"{missing}: checkpoint not found", *argv, "--alpha", "0.75", "--encoder-decoder", missing)
    assert_error(
        capsys,
        "is a 'classifier' checkpoint, expected 'lmac_td' or 'lmac_td_ed'",
        *argv,
        "--alpha",
        "0.75",
        "--encoder-decoder",
        tiny["classifier"],
    )
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# evaluate: methods, checkpoints and conditions


def _evaluate(tiny, tmp_path, *methods, explainers=()):
    return [
        "evaluate",
        "--data",
        tiny["prepared"],
        "--classifier",
        tiny["classifier"],
        "--out",
        tmp_path / "out",
        "--device",
        "cpu",
        "--method",
        *methods,
        *(["--explainer", *explainers] if explainers else []),
    ]


def test_evaluate_methods_and_checkpoints(capsys, tiny, tmp_path):
    cases = [
        (("nope",), (), "unknown explanation method 'nope'"),
        (("lmac",), (), "0 explainer checkpoint(s) for 1 learned method(s) (lmac)"),
        (("saliency",), (tiny["lmac"],), "1 explainer checkpoint(s) for 0 learned method(s)"),
        (("saliency", "saliency"), (), "a method is listed twice"),
        (
            ("lmac_td_a0.5",),
            (tiny["lmac"],),
            f"{tiny['lmac']}: is a 'lmac' checkpoint, method 'lmac_td_a0.5' needs an 'lmac_td' one",
        ),
        (("lmac",), (tiny["lmac_td"],), "is a 'lmac_td' checkpoint, method 'lmac' needs an 'lmac' one"),
        (("lmac_td_a0.5",), (tiny["lmac_td"],), f"{tiny['lmac_td']}: holds lmac_td_a0.75, not lmac_td_a0.5"),
        (("lmac_ft", "lmac"), (tiny["lmac_trained"], tiny["lmac_ft"]), "holds lmac, not lmac_ft"),
        (("lmac",), (tiny["classifier"],), "is a 'classifier' checkpoint, not an explainer"),
        (("lmac",), (tmp_path / "missing.pt",), "missing.pt: checkpoint not found"),
    ]
    for methods, explainers, needle in cases:
        assert_error(capsys, needle, *_evaluate(tiny, tmp_path, *methods, explainers=explainers))
    bad = _corrupt(tiny["lmac_td"], tmp_path / "td.pt", lambda p: p["state_dict"].pop("decoder.weight"))
    assert_error(
        capsys,
        "td.pt: checkpoint lacks weight 'decoder.weight'",
        *_evaluate(tiny, tmp_path, "lmac_td_a0.75", explainers=[bad]),
    )
    assert not (tmp_path / "out").exists()


def test_evaluate_accepts_matching_checkpoints_in_any_spelling_of_alpha(capsys, tiny, tmp_path):
    code = main(
        [
            "--config",
            str(TINY),
            *map(
                str,
                _evaluate(tiny, tmp_path, "lmac_td_a0.750", "lmac_ft", explainers=[tiny["lmac_td"], tiny["lmac_ft"]]),
            ),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "lmac_td_a0.750.csv").is_file() and (tmp_path / "out" / "lmac_ft.csv").is_file()


def test_evaluate_conditions_and_their_sources(capsys, tiny, tmp_path):
    argv = _evaluate(tiny, tmp_path, "saliency")
    config = write_config(tmp_path / "lj.yaml", **{"evaluation.speech": "ljspeech"})
    assert_error(
        capsys,
        "evaluation.speech: 'ljspeech' needs the downloaded LJSpeech folder",
        *argv,
        "--condition",
        "speech",
        config=config,
    )
    assert_error(
        capsys,
        f"--ljspeech {tmp_path / 'lj'}: no such folder",
        *argv,
        "--condition",
        "speech",
        "--ljspeech",
        tmp_path / "lj",
        config=config,
    )
    (tmp_path / "lj").mkdir()
    assert_error(
        capsys,
        f"{tmp_path / 'lj'}: no audio files match",
        *argv,
        "--condition",
        "speech",
        "--ljspeech",
        tmp_path / "lj",
        config=config,
    )
    config = write_config(tmp_path / "wham.yaml", **{"noise.source": "wham"})
    assert_error(
        capsys,
        "noise.source: 'wham' needs the extracted WHAM! folder",
        *argv,
        "--condition",
        "in_domain",
        config=config,
    )
    assert_error(
        capsys,
        f"--wham {tmp_path / 'wham'}: no such folder",
        *argv,
        "--condition",
        "in_domain",
        "--wham",
        tmp_path / "wham",
        config=config,
    )
    assert_error(
        capsys,
        f"{tmp_path / 'masks.npz'}: no such ground-truth mask file",
        *argv,
        "--event-masks",
        tmp_path / "masks.npz",
    )
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# what no check foresaw: the environment failing under a running step


@pytest.mark.parametrize(
    "error,line",
    [
        (
            OSError(28, "No space left on device", "/data/out/model.pt"),
            "lmac: error: /data/out/model.pt: No space left on device",
        ),
        (PermissionError(13, "Permission denied", "a.tmp", None, "b"), "lmac: error: a.tmp -> b: Permission denied"),
        (ConnectionResetError("peer went away"), "lmac: error: ConnectionResetError: peer went away"),
        (OSError(), "lmac: error: OSError: OSError"),
    ],
)
def test_os_error_during_a_step_is_one_line(capsys, tiny, tmp_path, monkeypatch, error, line):
    from lmac.data import synthetic

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(synthetic, "generate_synthetic_dataset", broken)
    assert error_line(capsys, "synthesize", "--out", tmp_path / "raw") == line

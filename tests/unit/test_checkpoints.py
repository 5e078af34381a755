"""Checkpoints load with weights_only=True: files that would run code are refused; a checkpoint
that does not fit the model (missing, unexpected or mis-shaped weights, a config from another
version) fails with one line naming the file and the key, whichever loader reads it."""

import os
import re

import pytest
import torch
from model_fixture import TINY_TD, tiny_classifier

from lmac.checkpoints import load_checkpoint, save_checkpoint
from lmac.classifier.model import load_classifier
from lmac.classifier.train import _initialise
from lmac.errors import LmacError
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.lmac_td import LmacTDExplainer, build_lmac_td
from lmac.explainers.lmac_td_autoencoder import KIND as ED_KIND
from lmac.explainers.lmac_td_autoencoder import EncoderDecoder
from lmac.frontend import FrontEndConfig


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_round_trip_and_kind_check(tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, "classifier", {"width": 0.5}, {"w": torch.ones(2)})
    payload = load_checkpoint(path, "classifier")
    assert payload["config"] == {"width": 0.5} and torch.equal(payload["state_dict"]["w"], torch.ones(2))
    with pytest.raises(LmacError, match="is a 'classifier' checkpoint, expected 'lmac'"):
        load_checkpoint(path, "lmac")


def test_pickle_that_runs_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "kind": "classifier", "payload": Exploit()}, path)
    with pytest.raises(LmacError, match="refusing to load"):
        load_checkpoint(path)


def test_garbage_and_missing_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(LmacError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(bad)
    with pytest.raises(LmacError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.ones(1)}, plain)
    with pytest.raises(LmacError, match="not an lmac checkpoint"):
        load_checkpoint(plain)


# --------------------------------------------------------------------------------------------
# a checkpoint of the right kind that does not fit the model: one line naming the file and the key


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Random tiny models saved as lmac checkpoints: {name: (path, loader)}."""
    root = tmp_path_factory.mktemp("ckpt")
    clf = tiny_classifier()
    clf.save(root / "classifier.pt")
    LmacExplainer(clf).save(root / "lmac.pt", meta={"method": "lmac"})
    td = build_lmac_td(clf, TINY_TD, "nov2024", 0.75)
    td.save(root / "lmac_td.pt")
    save_checkpoint(root / "ed.pt", ED_KIND, {"arch": td.arch.to_dict()}, EncoderDecoder(td.arch).state_dict())
    return {
        "root": root,
        "clf": clf,
        "td": td,
        "classifier": (root / "classifier.pt", lambda p: load_classifier(p)),
        "lmac": (root / "lmac.pt", lambda p: LmacExplainer.load(p, clf)),
        "lmac_td": (root / "lmac_td.pt", lambda p: LmacTDExplainer.load(p, clf)),
        "lmac_td_ed": (root / "ed.pt", lambda p: build_lmac_td(clf, TINY_TD, "nov2024", 1.0).load_encoder_decoder(p)),
    }


def corrupt(models, name, tmp_path, change) -> tuple:
    """Save a copy of checkpoint ``name`` after ``change(payload)``; return (its path, its loader)."""
    path, loader = models[name]
    payload = torch.load(path, weights_only=True)
    change(payload)
    bad = tmp_path / "model.pt"
    torch.save(payload, bad)
    return bad, loader


def one_line(excinfo, *needles) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, message
    for needle in needles:
        assert needle in message, message
    return message


LOADERS = ["classifier", "lmac", "lmac_td", "lmac_td_ed"]


@pytest.mark.parametrize("name", LOADERS)
def test_untouched_checkpoints_load(models, name):
    path, loader = models[name]
    loader(path)


@pytest.mark.parametrize("name", LOADERS)
def test_missing_weight(models, name, tmp_path):
    first = {}

    def change(payload):
        first["key"] = next(iter(payload["state_dict"]))
        del payload["state_dict"][first["key"]]

    bad, loader = corrupt(models, name, tmp_path, change)
    with pytest.raises(LmacError) as err:
        loader(bad)
    one_line(err, str(bad), f"lacks weight '{first['key']}'")


@pytest.mark.parametrize("name", LOADERS)
def test_unexpected_weight(models, name, tmp_path):
    key = "encoder.extra" if name == "lmac_td_ed" else "extra.weight"
    bad, loader = corrupt(models, name, tmp_path, lambda p: p["state_dict"].update({key: torch.ones(2)}))
    with pytest.raises(LmacError) as err:
        loader(bad)
    one_line(err, str(bad), f"has unexpected weight '{key}'")


@pytest.mark.parametrize("name", LOADERS)
def test_shape_mismatch(models, name, tmp_path):
    seen = {}

    def change(payload):
        key = next(k for k, v in payload["state_dict"].items() if v.dim() > 1)
        seen["key"], seen["shape"] = key, tuple(payload["state_dict"][key].shape)
        payload["state_dict"][key] = torch.zeros(5, 7)

    bad, loader = corrupt(models, name, tmp_path, change)
    with pytest.raises(LmacError) as err:
        loader(bad)
    one_line(err, str(bad), f"weight '{seen['key']}' has shape (5, 7), the model needs {seen['shape']}")


@pytest.mark.parametrize("name", LOADERS)
def test_weights_that_are_no_mapping(models, name, tmp_path):
    bad, loader = corrupt(models, name, tmp_path, lambda p: p.update(state_dict=[1, 2, 3]))
    with pytest.raises(LmacError) as err:
        loader(bad)
    one_line(err, str(bad), "holds no", "weights")


def test_a_failed_load_changes_no_weight(models, tmp_path):
    model = build_lmac_td(models["clf"], TINY_TD, "nov2024", 1.0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bad, _ = corrupt(
        models, "lmac_td_ed", tmp_path, lambda p: p["state_dict"].update({"decoder.weight": torch.ones(1)})
    )
    with pytest.raises(LmacError, match="weight 'decoder.weight' has shape"):
        model.load_encoder_decoder(bad)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize(
    "name,key",
    [
        ("classifier", "classes"),
        ("classifier", "width"),
        ("classifier", "frontend"),
        ("lmac", "mask_domain"),
        ("lmac", "frames"),
        ("lmac", "width"),
        ("lmac_td", "preset"),
        ("lmac_td", "alpha"),
        ("lmac_td", "arch"),
        ("lmac_td", "feature_n_fft"),
        ("lmac_td", "width"),
    ],
)
def test_config_lacking_a_key(models, name, key, tmp_path):
    bad, loader = corrupt(models, name, tmp_path, lambda p: p["config"].pop(key))
    with pytest.raises(LmacError) as err:
        loader(bad)
    what = {"classifier": "a classifier", "lmac": "an L-MAC", "lmac_td": "an LMAC-TD"}[name]
    assert str(err.value) == f"{bad}: checkpoint config lacks key '{key}' ({what} checkpoint from another version?)"


def test_config_lacking_nested_and_several_keys(models, tmp_path):
    bad, loader = corrupt(models, "lmac_td", tmp_path, lambda p: p["config"]["arch"].pop("n_filters"))
    with pytest.raises(LmacError) as err:
        loader(bad)
    one_line(err, str(bad), "lacks key 'arch.n_filters'")
    bad, loader = corrupt(models, "lmac", tmp_path, lambda p: [p["config"].pop(k) for k in ("mask_domain", "frames")])
    with pytest.raises(LmacError) as err:
        loader(bad)
    one_line(err, "lacks keys 'mask_domain', 'frames'")
    bad, loader = corrupt(models, "classifier", tmp_path, lambda p: p.update(config=["not", "a", "mapping"]))
    with pytest.raises(LmacError) as err:
        loader(bad)
    one_line(err, str(bad), "checkpoint has no config mapping")


@pytest.mark.parametrize(
    "name,change,needle",
    [
        ("classifier", lambda c: c["frontend"].update(bogus=1), "unexpected keyword argument 'bogus'"),
        ("classifier", lambda c: c.update(width="wide"), "does not describe a classifier model"),
        ("lmac", lambda c: c.update(mask_domain="linear"), "unknown value 'linear'"),
        ("lmac_td", lambda c: c.update(alpha="x"), "could not convert string to float"),
        ("lmac_td", lambda c: c.update(alpha=1.5), "α must be in [0, 1]"),
        ("lmac_td", lambda c: c["arch"].update(n_filters=0), "n_filters"),
    ],
)
def test_config_values_the_model_cannot_take(models, name, change, needle, tmp_path):
    bad, loader = corrupt(models, name, tmp_path, lambda p: change(p["config"]))
    with pytest.raises(LmacError) as err:
        loader(bad)
    one_line(err, f"{bad}: checkpoint config does not describe", needle)


def test_lmac_td_checkpoint_lends_its_encoder_decoder_whatever_else_it_holds(models):
    model = build_lmac_td(models["clf"], TINY_TD, "nov2024", 0.0)  # no upsampler: the donor's is not unexpected
    model.load_encoder_decoder(models["lmac_td"][0])
    assert torch.equal(model.encoder.conv1d.weight, models["td"].encoder.conv1d.weight)


def test_speechbrain_folder_with_an_extra_weight(models, tmp_path):
    folder = tmp_path / "sepformer"
    folder.mkdir()
    torch.save({"conv1d.weight": torch.randn(8, 1, 16), "conv1d.bias": torch.zeros(8)}, folder / "encoder.ckpt")
    torch.save({"weight": torch.randn(8, 1, 16)}, folder / "decoder.ckpt")
    with pytest.raises(LmacError) as err:
        build_lmac_td(models["clf"], TINY_TD, "nov2024", 1.0).load_encoder_decoder(folder)
    one_line(err, str(folder / "encoder.ckpt"), "unexpected encoder weight 'conv1d.bias'")


def test_speechbrain_embedding_with_an_unexpected_key(models, tmp_path):
    """The classifier's init_checkpoint: extra keys raised torch's RuntimeError, missing counters are fine."""
    clf = models["clf"]
    emb = {k: v for k, v in clf.net.embedding_model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(emb, tmp_path / "embedding_model.ckpt")
    fresh = tiny_classifier(frontend=FrontEndConfig())
    _initialise(fresh, str(tmp_path / "embedding_model.ckpt"), None)
    assert torch.equal(fresh.net.embedding_model.state_dict()["norm0.weight"], emb["norm0.weight"])
    torch.save({**emb, "fc9.weight": torch.zeros(3)}, tmp_path / "embedding_model.ckpt")
    with pytest.raises(LmacError) as err:
        _initialise(fresh, str(tmp_path / "embedding_model.ckpt"), None)
    one_line(err, str(tmp_path / "embedding_model.ckpt"), "unexpected weight 'fc9.weight'", "width-0.0625 CNN14")


def test_speechbrain_head_that_does_not_fit_names_both_files(models, tmp_path):
    clf = models["clf"]
    torch.save(clf.net.embedding_model.state_dict(), tmp_path / "embedding_model.ckpt")
    torch.save({"w.weight": torch.zeros(3, 7), "w.bias": torch.zeros(3)}, tmp_path / "classifier.ckpt")
    fresh = tiny_classifier()
    with pytest.raises(LmacError) as err:
        _initialise(fresh, str(tmp_path / "embedding_model.ckpt"), str(tmp_path / "classifier.ckpt"))
    one_line(
        err,
        f"{tmp_path / 'embedding_model.ckpt'} + {tmp_path / 'classifier.ckpt'}: classifier:",
        "'weight' has shape (3, 7)",
    )
    torch.save([1, 2], tmp_path / "classifier.ckpt")
    with pytest.raises(
        LmacError, match=re.escape(f"{tmp_path / 'classifier.ckpt'}: not a SpeechBrain classifier.ckpt")
    ):
        _initialise(fresh, str(tmp_path / "embedding_model.ckpt"), str(tmp_path / "classifier.ckpt"))

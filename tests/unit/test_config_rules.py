"""The config rules checked before the first job: run folder names, --config coercion, folds, device, sanity."""

from pathlib import Path

import pytest
import yaml

from lmac.config import coerce_overrides, run_name, synthetic_id
from lmac.config_rules import check_device, check_splits_config, sanity_retrained
from lmac.errors import LmacError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def default_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


# ---- run folders


def test_the_embedded_default_and_the_paper_config_run_in_different_folders():
    paper = ROOT / "config" / "paper.yaml"
    assert run_name(default_config(), [], {}) == "embedded"
    assert run_name({**default_config(), **yaml.safe_load(paper.read_text())}, [paper], {}) == "paper"


def test_a_configfile_without_a_run_key_names_the_run(tmp_path):
    overlay = tmp_path / "longer.yaml"
    overlay.write_text("lmac: {epochs: 30}\n")
    assert run_name(default_config(), [overlay], {}) == "longer"


def test_a_site_overlay_keeps_the_run_of_the_config_that_names_it(tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("dataset: {esc50: {url: /data/esc50.zip}}\n")
    config = {**default_config(), "run": "paper"}
    assert run_name(config, [ROOT / "config" / "paper.yaml", site], {}) == "paper"


def test_config_overrides_get_their_own_folder_unless_they_name_it():
    one = run_name(default_config(), [], {"lmac": {"epochs": "6"}})
    other = run_name(default_config(), [], {"lmac": {"epochs": "7"}})
    assert one.startswith("embedded-") and other.startswith("embedded-") and one != other
    assert run_name(default_config(), [], {"lmac": {"epochs": "6"}}) == one  # the same overrides, the same run
    assert run_name(default_config(), [], {"run": "quick", "lmac": {"epochs": "6"}}) == "quick"


@pytest.mark.parametrize("bad", ["a/b", "../up", ".hidden", "", 3])
def test_a_run_name_that_is_no_folder_name_is_refused(bad):
    with pytest.raises(LmacError, match="config key 'run'"):
        run_name(default_config(), [], {"run": bad})


def test_the_synthetic_data_is_shared_exactly_when_its_settings_agree():
    config = default_config()
    assert synthetic_id(config) == synthetic_id({**config, "lmac": {"epochs": 1}, "run": "other"})
    changed = {**config, "dataset": {**config["dataset"], "clip_seconds": 3.0}}
    assert synthetic_id(changed) != synthetic_id(config)


# ---- --config values


def test_nested_config_numbers_get_the_schema_types_back():
    config = default_config()
    config["lmac"]["epochs"] = "6"  # what Snakemake makes of --config lmac='{epochs: 6}'
    config["lmac"]["lr"] = "1e-3"
    config["lmac_td"]["alphas"] = ["0", "0.75"]
    config["lmac"]["noise"] = "false"
    overrides = {"lmac": {"epochs": "6", "lr": "1e-3", "noise": "false"}, "lmac_td": {"alphas": ["0", "0.75"]}}
    coerce_overrides(config, overrides, SCHEMA)
    assert config["lmac"]["epochs"] == 6 and config["lmac"]["lr"] == 0.001 and config["lmac"]["noise"] is False
    assert config["lmac_td"]["alphas"] == [0, 0.75]


def test_strings_stay_strings_and_untouched_keys_stay_as_written():
    config = default_config()
    config["dataset"]["esc50"]["sha256"] = "1234"  # a string key: never a number
    config["classifier"]["epochs"] = "15"  # written as a string in the file, not given by --config
    coerce_overrides(config, {"dataset": {"esc50": {"sha256": "1234"}}}, SCHEMA)
    assert config["dataset"]["esc50"]["sha256"] == "1234" and config["classifier"]["epochs"] == "15"


def test_a_value_that_is_no_number_stays_for_the_schema_to_refuse():
    config = default_config()
    config["lmac"]["epochs"] = "six"
    coerce_overrides(config, {"lmac": {"epochs": "six"}}, SCHEMA)
    assert config["lmac"]["epochs"] == "six"
    config["lmac"]["epochs"] = "true"  # a boolean is no integer
    coerce_overrides(config, {"lmac": {"epochs": "true"}}, SCHEMA)
    assert config["lmac"]["epochs"] == "true"


# ---- folds and splits


def with_splits(splits, **dataset):
    config = default_config()
    config["dataset"] = {**config["dataset"], "splits": splits, **dataset}
    return config


def test_the_default_splits_pass():
    check_splits_config(default_config())


def test_a_fold_in_two_splits_is_a_config_error():
    with pytest.raises(LmacError, match=r"config key 'dataset.splits': fold 3 is in both split 'train' and 'valid'"):
        check_splits_config(with_splits({"train": [1, 2, 3], "valid": [3], "test": [5]}))


def test_a_split_with_no_clips_is_a_config_error():
    with pytest.raises(LmacError, match=r"config key 'dataset.splits.test': folds \[7\] hold no clips"):
        check_splits_config(with_splits({"train": [1, 2, 3], "valid": [4], "test": [7]}))


def test_the_synthetic_fold_count_decides_which_folds_exist():
    config = with_splits({"train": [1], "valid": [2], "test": [4]})
    config["dataset"]["synthetic"] = {**config["dataset"]["synthetic"], "n_folds": 3}
    with pytest.raises(LmacError, match=r"dataset.splits.test.*folds \[1, 2, 3\]"):
        check_splits_config(config)


def test_esc50_folds_come_from_its_listing_when_downloaded(tmp_path):
    meta = tmp_path / "esc50.csv"
    meta.write_text("filename,fold,target,category\na.wav,1,0,dog\nb.wav,2,0,dog\nc.wav,3,1,rain\n")
    config = with_splits({"train": [1], "valid": [2], "test": [4]}, name="esc50")
    check_splits_config(config)  # not downloaded yet: ESC-50's published five folds
    with pytest.raises(LmacError, match=r"dataset.splits.test.*the esc50 dataset has folds \[1, 2, 3\]"):
        check_splits_config(config, meta)


# ---- device


def test_cuda_without_a_gpu_is_a_config_error():
    check_device("cpu", 0)
    check_device("auto", 0)
    with pytest.raises(LmacError, match="config key 'device': 'cuda' but this machine has no CUDA GPU"):
        check_device("cuda", 0)
    check_device("cuda:1", 2)
    with pytest.raises(LmacError, match=r"'cuda:2' but this machine has 2 CUDA GPU\(s\) \(cuda:0 to cuda:1\)"):
        check_device("cuda:2", 2)


# ---- sanity checks


def test_sanity_retraining_follows_the_evaluated_methods():
    config = default_config()
    assert sanity_retrained(config, ["lmac", "lmac_td_a0.75", "gradcam"]) == ["lmac", "lmac_td_a0.75"]
    assert sanity_retrained(config, ["lmac", "gradcam"]) == ["lmac"]  # the README's quick look
    config["sanity"]["retrain_methods"] = ["lmac_td_a0.5"]
    with pytest.raises(LmacError, match="'sanity.retrain_methods': lmac_td_a0.5 is not a learned method"):
        sanity_retrained(config, ["lmac"])

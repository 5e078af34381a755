"""The config rules checked before the first job: run folder names, --config coercion, folds, device, sanity."""

from pathlib import Path

import pytest
import yaml

from lmac.config import coerce_overrides, run_name, synthetic_id
from lmac.config_rules import (
    check_device,
    check_splits_config,
    evaluated_methods,
    plan_workflow,
    runs_on_gpu,
    sanity_retrained,
)
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


# ---- the plan common.smk reads


def plan(config=None, overrides=None, configfiles=()):
    return plan_workflow(config or default_config(), overrides or {}, list(configfiles), ROOT / "config")


def test_the_plan_of_the_embedded_default():
    config = default_config()
    result = plan(config)
    assert result.run == "embedded"
    assert result.methods == evaluated_methods(config)
    assert config["evaluation"]["group"] == "condition"  # the schema's defaults are filled in, in place
    assert result.published_file == str(ROOT / "config" / "published.yaml")
    assert result.claims_file == str(ROOT / "config" / "claims.yaml") and result.claims
    assert result.claims_methods and set(result.claims_methods) <= set(result.methods)
    assert result.claims_conditions == [
        c for c in config["claims"]["conditions"] if c in config["evaluation"]["conditions"]
    ]
    assert result.claims_only_seeds == [s for s in config["claims"]["seeds"] if s not in config["seeds"]]
    assert result.classifier_downloads == {}


def test_lmac_td_stands_for_one_explainer_per_alpha():
    config = default_config()
    config["evaluation"]["methods"] = ["lmac", "lmac_td", "saliency"]
    config["lmac_td"]["alphas"] = [0.75, 1]
    assert evaluated_methods(config) == ["lmac", "lmac_td_a0.75", "lmac_td_a1", "saliency"]


def test_the_claims_pool_only_what_is_evaluated():
    config = default_config()
    config["evaluation"]["methods"] = ["lmac", "saliency"]
    config["evaluation"]["conditions"] = ["mixture"]
    config["seeds"] = [1234, 1235]
    config["sanity"]["retrain_methods"] = []
    result = plan(config)
    assert result.claims_methods == ["lmac", "saliency"]
    assert result.claims_conditions == ["mixture"]
    assert result.claims_only_seeds == [1236]


def test_config_overrides_get_the_schema_types_back_and_their_own_run():
    config = default_config()
    config["lmac"]["epochs"] = "6"  # what snakemake --config lmac='{epochs: 6}' leaves
    result = plan(config, {"lmac": {"epochs": "6"}})
    assert config["lmac"]["epochs"] == 6 and result.run.startswith("embedded-")


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda c: c["classifier"].update(epochs=0), "config key 'classifier.epochs': 0 is less than the minimum of 1"),
        (
            lambda c: c["dataset"].update(splits={"train": [1], "valid": [1], "test": [2]}),
            "config key 'dataset.splits'",
        ),
        (lambda c: c["sanity"].update(retrain_methods=["lmac_td_a0.3"]), "config key 'sanity.retrain_methods'"),
        (lambda c: c["claims"].update(file="/nowhere/claims.yaml"), "/nowhere/claims.yaml: claims file not found"),
        (lambda c: c.update(run="../up"), "config key 'run'"),
    ],
)
def test_the_plan_stops_at_the_first_bad_key_in_one_line(edit, needle):
    config = default_config()
    edit(config)
    with pytest.raises(LmacError) as err:
        plan(config)
    assert str(err.value).startswith(needle) and "\n" not in str(err.value)


def test_jobs_use_a_gpu_when_asked_or_when_auto_finds_one():
    assert runs_on_gpu("cuda", False) and runs_on_gpu("cuda:1", True)
    assert runs_on_gpu("auto", True) and not runs_on_gpu("auto", False)
    assert not runs_on_gpu("cpu", True)

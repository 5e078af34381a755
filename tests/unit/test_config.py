from pathlib import Path

import pytest
import yaml

from lmac.config import check_config
from lmac.errors import LmacError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def default_config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_default_config_is_valid():
    check_config(default_config(), SCHEMA)


@pytest.mark.parametrize(
    "path,value,needle",
    [
        (("classifier", "epochs"), 0, "config key 'classifier.epochs': 0 is less than the minimum of 1"),
        (("dataset", "name"), "audioset", "config key 'dataset.name'"),
        (("lmac", "loss", "preset"), "best", "config key 'lmac.loss.preset'"),
        (("dataset", "esc50", "sha256"), "abc", "config key 'dataset.esc50.sha256'"),
    ],
)
def test_bad_values_name_the_key(path, value, needle):
    cfg = default_config()
    node = cfg
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(LmacError, match=needle.replace(".", r"\.")):
        check_config(cfg, SCHEMA)


def test_misspelt_key_is_reported():
    cfg = default_config()
    cfg["lmac"]["mask_domian"] = "log1p"
    with pytest.raises(LmacError, match="'mask_domian' was unexpected"):
        check_config(cfg, SCHEMA)


def test_config_readme_documents_every_schema_key():
    from lmac.config import schema_markdown

    readme = (ROOT / "config" / "README.md").read_text()
    missing = [line for line in schema_markdown(SCHEMA).splitlines() if line not in readme]
    assert not missing, "config/README.md is out of date; regenerate with python -m lmac.config: " + missing[0]

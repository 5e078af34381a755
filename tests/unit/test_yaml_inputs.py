"""One loader for every YAML input: each schema accepts the shipped file and rejects a bad one in one line."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from lmac.errors import LmacError
from lmac.reporting.claims_spec import RULES
from lmac.yaml_inputs import SCHEMAS, check, fill_defaults, load_schema, load_validated, read_yaml, schema_path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "config": ROOT / "config" / "config.yaml",
    "published": ROOT / "config" / "published.yaml",
    "claims": ROOT / "config" / "claims.yaml",
}


def test_the_schemas_ship_with_the_package_and_the_workflow_reads_the_same_files():
    assert SCHEMAS.parent.name == "lmac" and (SCHEMAS.parent / "__init__.py").is_file()
    for name in SHIPPED:
        assert schema_path(name).is_file()
        assert (ROOT / "workflow" / "schemas" / f"{name}.schema.yaml").resolve() == schema_path(name).resolve()


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_schema_accepts_its_shipped_file(name):
    data = load_validated(SHIPPED[name], name)
    assert isinstance(data, dict) and data


# positions in the shipped claims file, so adding a claim does not shift what these cases edit
CLAIM = {c["id"]: i for i, c in enumerate(yaml.safe_load(SHIPPED["claims"].read_text())["claims"])}
FT, RANDOMISATION = CLAIM["lmac_ft_keeps_faithfulness"], CLAIM["lmac_degrades_under_randomisation"]

BAD = [
    ("config", lambda d: d["classifier"].update(epochs=0), "key 'classifier.epochs': 0 is less than the minimum of 1"),
    ("config", lambda d: d["dataset"]["synthetic"].update(n_folds=2), "key 'dataset.synthetic.n_folds': 2 is less"),
    ("published", lambda d: d["tables"][0].update(url="ftp://x"), "key 'tables.0.url': 'ftp://x' does not match"),
    ("published", lambda d: d["methods"]["lmac"].update(nick="x"), "key 'methods.lmac': Additional properties"),
    ("published", lambda d: d["tables"][1]["rows"][0].update(AI=float("nan")), "key 'tables.1.rows.0.AI': nan"),
    ("claims", lambda d: d["claims"][1].update(rule="beats"), "key 'claims.1.rule': 'beats' is not one of"),
    ("claims", lambda d: d["claims"][FT].pop("margin"), f"key 'claims.{FT}': 'margin' is a required property"),
    (
        "claims",
        lambda d: d["claims"][RANDOMISATION].update(threshold={"AI": 1}),
        f"key 'claims.{RANDOMISATION}.threshold': {{'AI': 1}} is not",
    ),
]


@pytest.mark.parametrize(("name", "edit", "needle"), BAD)
def test_each_schema_rejects_a_bad_file_in_one_line_naming_the_file_and_the_key(tmp_path, name, edit, needle):
    data = yaml.safe_load(SHIPPED[name].read_text())
    edit(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(LmacError) as err:
        load_validated(path, name)
    message = str(err.value)
    assert message.startswith(f"{path}: {needle}") and "\n" not in message


def test_the_merged_config_is_named_config_not_a_file():
    config = {**yaml.safe_load(SHIPPED["config"].read_text()), "seed": "x"}
    with pytest.raises(LmacError, match=r"^config key 'seed': 'x' is not of type 'integer'$"):
        check(config, load_schema("config"), None)


def test_unreadable_files_are_one_line_naming_them(tmp_path):
    with pytest.raises(LmacError, match=r"absent.yaml: claims file not found$"):
        read_yaml(tmp_path / "absent.yaml", "claims file")
    with pytest.raises(LmacError, match=r"is a folder, not a file$"):
        read_yaml(tmp_path)
    (tmp_path / "bad.yaml").write_text("a: [\n")
    with pytest.raises(LmacError, match=r"bad.yaml: not valid YAML \("):
        read_yaml(tmp_path / "bad.yaml")
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(LmacError, match="binary.yaml: not a text file"):
        read_yaml(tmp_path / "binary.yaml")


def test_defaults_fill_nested_keys_and_are_never_shared():
    schema = load_schema("config")
    first = fill_defaults({"dataset": {}}, schema)
    assert first["dataset"]["synthetic"]["n_folds"] == 5 and first["dataset"]["splits"]["test"] == [5]
    first["dataset"]["splits"]["test"].append(9)
    second = fill_defaults({"dataset": {"synthetic": {"n_folds": 3}}}, schema)
    assert second["dataset"]["splits"]["test"] == [5] and second["dataset"]["synthetic"]["n_folds"] == 3


def test_the_claims_schema_knows_exactly_the_rules_lmac_checks():
    claim = load_schema("claims")["$defs"]["claim"]
    assert tuple(claim["properties"]["rule"]["enum"]) == RULES


def test_load_schema_returns_a_copy():
    schema = load_schema("published")
    schema["properties"].clear()
    assert load_schema("published")["properties"] and copy.deepcopy(load_schema("claims")) == load_schema("claims")

"""The training jobs, built from the config in one place for the ``lmac`` commands and the rules alike.

A job says what to train, from which inputs, into which outputs; its ``from_config`` is the one
mapping from config keys to a trainer's settings (as :class:`lmac.evaluation.evaluate.EvalJob`'s is
for evaluation). A rule passes the config keys its job reads as params (``cfg``: the job's section,
``noise``, ``seed``, ``device``, ...), so that only their changes rerun it; :func:`rule_config` puts
them back under their config names and :meth:`TrainingJob.from_rule` hands them to ``from_config``.
The jobs themselves live beside their trainers (``ClassifierJob`` in :mod:`lmac.classifier.train`,
the explainers' in :mod:`lmac.explainers`); ``prepare_settings`` is the preparation step's mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from .compute import REFERENCE, Compute
from .data.noise import noise_source as build_noise_source

# {config key: name of the rule param that carries it}, besides the job's section (param ``cfg``)
RULE_PARAMS = {
    "frontend": "frontend",
    "lmac_ft": "ft",
    "noise": "noise",
    "seed": "seed",
    "device": "device",
    "compute": "compute",
}


@dataclass(frozen=True, kw_only=True)
class Outputs:
    """Where a training writes: the exported model, its history, its metrics (the classifier's) and the
    work folder that makes it resumable (not a declared output: it outlives a killed job)."""

    model: str
    history: str
    work: str
    metrics: str | None = None

    @classmethod
    def in_folder(cls, out: str | Path) -> Outputs:
        """The layout of an ``lmac`` command's ``--out`` folder."""
        out = Path(out)
        return cls(
            model=str(out / "model.pt"),
            history=str(out / "history.csv"),
            work=str(out / "work"),
            metrics=str(out / "metrics.json"),
        )

    @classmethod
    def of_rule(cls, snakemake) -> Outputs:
        output = snakemake.output
        return cls(
            model=output.model, history=output.history, work=snakemake.params.work, metrics=output.get("metrics")
        )


def rule_config(snakemake, section: str) -> dict:
    """The config a training rule's params carry, under the config's own keys (``section``: param ``cfg``)."""
    params = dict(snakemake.params.items())
    config = {section: params["cfg"], **{key: params[name] for key, name in RULE_PARAMS.items() if name in params}}
    if "sample_rate" in params:
        config["dataset"] = {"sample_rate": params["sample_rate"]}
    return config


@dataclass(frozen=True, kw_only=True)
class TrainingJob:
    """What every training reads: the prepared data, its config section, seed, device (and how it computes) and noise."""

    SECTION: ClassVar[str]  # the config section of the trained model

    prepared_dir: str
    outputs: Outputs
    cfg: dict  # config[SECTION]
    seed: int
    device: str = "auto"
    compute: Compute = REFERENCE  # the config's compute section (lmac.compute)
    noise_cfg: dict = field(default_factory=dict)  # the top-level ``noise`` section: source, snr_db, peak
    wham_dir: str | None = None  # the extracted WHAM! folder, when noise.source is wham
    noise_source: object = None  # anything with sample(length, generator); None: the one noise_cfg names

    @classmethod
    def from_config(
        cls,
        config: dict,
        *,
        prepared_dir: str | Path,
        outputs: Outputs,
        seed: int | None = None,
        device: str | None = None,
        wham_dir: str | None = None,
        **own,
    ) -> TrainingJob:
        """The job for the validated ``config``; ``seed`` and ``device`` default to the config's, ``own``
        are the job's own arguments (:meth:`own_fields`)."""
        common = {
            "prepared_dir": str(prepared_dir),
            "outputs": outputs,
            "cfg": config[cls.SECTION],
            "seed": config["seed"] if seed is None else seed,
            "device": device or config.get("device", "auto"),
            "compute": Compute.from_config(config.get("compute")),
            "noise_cfg": config.get("noise") or {},
            "wham_dir": wham_dir,
        }
        return cls(**{**common, **cls.own_fields(config, **own)})

    @classmethod
    def own_fields(cls, config: dict, **own) -> dict:
        """The job's fields beyond the common ones (they may replace ``cfg``)."""
        return own

    @classmethod
    def rule_inputs(cls, snakemake) -> dict:
        """The job's own arguments that a rule gives as inputs or wildcards."""
        return {}

    @classmethod
    def from_rule(cls, snakemake) -> TrainingJob:
        """The job of a rule's script: its params are the config, its inputs and outputs the files."""
        return cls.from_config(
            rule_config(snakemake, cls.SECTION),
            prepared_dir=Path(snakemake.input.manifest).parent,
            outputs=Outputs.of_rule(snakemake),
            wham_dir=snakemake.input.get("wham"),
            **cls.rule_inputs(snakemake),
        )

    def noise(self, sample_rate: int, seed: int | None = None):
        """The training noise: the job's ``noise_source``, else the one ``noise_cfg`` names (seeded by the run)."""
        if self.noise_source is not None:
            return self.noise_source
        return build_noise_source(self.noise_cfg, self.wham_dir, sample_rate, self.seed if seed is None else seed)

    def run(self) -> object:
        raise NotImplementedError

    def execute(self) -> object:
        """:meth:`run`, then the work folder's resume checkpoints removed (the exported model is what stays)."""
        from .training import release_work

        result = self.run()
        release_work(self.outputs.work)
        return result


def run_rule(snakemake, job_class: type[TrainingJob]) -> None:
    """A training rule's whole script: build the job from the rule and run it as a workflow step."""
    from .workflow_step import run_step

    run_step(snakemake, lambda: job_class.from_rule(snakemake).execute())


def prepare_settings(dataset: dict) -> dict:
    """The keyword arguments of :func:`lmac.data.prepare.prepare_dataset` for the ``dataset`` section,
    with the clip and class counts the dataset must have (ESC-50's, or the synthetic dataset's)."""
    if dataset["name"] == "esc50":
        expect = dataset["esc50"]
    else:
        synthetic = dataset["synthetic"]
        expect = {
            "expect_clips": synthetic["n_classes"] * synthetic["clips_per_class"],
            "expect_classes": synthetic["n_classes"],
        }
    return {
        "sample_rate": dataset["sample_rate"],
        "clip_seconds": dataset["clip_seconds"],
        "splits": dataset["splits"],
        "normalisation": dataset["normalisation"],
        "label_order": dataset["label_order"],
        "expect_clips": expect["expect_clips"],
        "expect_classes": expect["expect_classes"],
        "clips_per_split": dataset.get("clips_per_split"),
    }

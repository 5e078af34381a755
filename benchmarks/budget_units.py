"""What one step of each GPU rule computes, built from the package's own models and objectives.

A unit is a function ``make(config) -> step``: it builds the rule's models at the config's size
(CNN14 width, clip length, class count, LMAC-TD architecture, baseline step counts) with random
weights — a step costs the same whatever the weights are — and a random batch of the rule's batch
size; ``step()`` runs one optimiser step (``*/train``), one validation batch (``*/valid``), one
NMF iteration, or one evaluation batch. ``benchmarks/gpu_budget.py`` counts their FLOPs (on fake
tensors) and measures their time and memory (on real ones); ``budget_plan`` says how many of
each the configuration runs.

The training objectives are the trainers' own (``LmacTrainer.loss``, ``training_loss``,
``L2ITrainer.loss``: the trainer is built without its data, which only ``__init__`` loads); an
evaluation batch is ``lmac.evaluation.evaluate._Run``'s per-batch work (the reference passes,
the explanation, every metric and extra) on the clean condition, whose mixing costs no FLOPs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from lmac.classifier.model import AudioClassifier
from lmac.data.batches import Split
from lmac.evaluation.conditions import make_condition
from lmac.evaluation.evaluate import EvalJob, _Run
from lmac.explainers.base import Explainer
from lmac.explainers.l2i import L2IExplainer
from lmac.explainers.lmac import LmacExplainer
from lmac.explainers.lmac_td import LmacTDExplainer
from lmac.explainers.lmac_td_autoencoder import EncoderDecoder
from lmac.explainers.lmac_td_autoencoder import settings as ed_settings
from lmac.explainers.lmac_td_loss import si_snr
from lmac.explainers.lmac_td_presets import DEFAULT_PRESET, resolve_arch
from lmac.explainers.nmf import fit_nmf
from lmac.explainers.train_l2i import L2ITrainer, loss_weights
from lmac.explainers.train_lmac import LmacTrainer, finetune_config
from lmac.explainers.train_lmac_td import LmacTDTrainer
from lmac.frontend import FrontEndConfig

Step = Callable[[], object]

#: where the units build their models and batches (``gpu_budget.py --device``; fake tensors: the CPU)
DEVICE = torch.device("cpu")


def dataset_size(config: dict) -> dict:
    """Clips per split: ESC-50's ``expect_clips`` over its five folds of equal size (400 each), or the
    synthetic set's ``n_classes × clips_per_class`` over its ``n_folds``; the splits name the folds."""
    ds = config["dataset"]
    if ds["name"] == "esc50":
        per_fold = ds["esc50"]["expect_clips"] // 5
    else:
        syn = ds["synthetic"]
        per_fold = syn["n_classes"] * syn["clips_per_class"] // syn["n_folds"]
    folds = {k: [v] if isinstance(v, int) else list(v) for k, v in ds["splits"].items()}
    return {name: per_fold * len(f) for name, f in folds.items()}


def n_classes(config: dict) -> int:
    ds = config["dataset"]
    return ds["esc50"]["expect_classes"] if ds["name"] == "esc50" else ds["synthetic"]["n_classes"]


def clip_samples(config: dict) -> int:
    return int(round(config["dataset"]["clip_seconds"] * config["dataset"]["sample_rate"]))


def classifier(config: dict, train: bool = False) -> AudioClassifier:
    """A random CNN14 of the configured width and front end; frozen unless ``train``."""
    cfg = config["classifier"]
    frontend = FrontEndConfig.from_dict(config["frontend"])
    model = AudioClassifier([f"c{i}" for i in range(n_classes(config))], cfg["width"], frontend, cfg["dropout"])
    if not train:
        model.eval().requires_grad_(False)
    return model.to(DEVICE)


def batch(config: dict, size: int) -> torch.Tensor:
    return 0.1 * torch.randn(size, clip_samples(config), device=DEVICE)


def optimiser_step(module: torch.nn.Module, loss_fn: Callable[[torch.Tensor], torch.Tensor], wav) -> Step:
    """One training step as the loops run it: the objective, backward, Adam over the learning parameters."""
    module.train()
    opt = torch.optim.Adam([p for p in module.parameters() if p.requires_grad], lr=1e-4)

    def step():
        loss = loss_fn(wav)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def validation_step(loss_fn: Callable[[torch.Tensor], torch.Tensor], wav) -> Step:
    def step():
        with torch.no_grad():
            loss_fn(wav)

    return step


# the objectives: (the module that learns, its loss on one batch, the batch size)


def classifier_objective(config: dict, section: str = "classifier"):
    model = classifier(config, train=True)
    return (
        model,
        lambda wav: F.cross_entropy(model(wav)[0], torch.zeros(len(wav), dtype=torch.long, device=DEVICE)),
        config[section]["batch_size"],
    )


def _trainer(cls, cfg: dict, clf: AudioClassifier, **job):
    trainer = object.__new__(cls)  # without ExplainerTrainer.__init__, which loads the prepared data
    trainer.job = SimpleNamespace(**{"cfg": cfg, "init": None, "guidance": None, **job})
    trainer.classifier, trainer.dev = clf, DEVICE
    return trainer


def lmac_objective(config: dict, finetune: bool = False):
    cfg, guidance = finetune_config(config["lmac"], config.get("lmac_ft")) if finetune else (config["lmac"], None)
    trainer = _trainer(LmacTrainer, cfg, classifier(config), guidance=guidance)
    trainer.explainer = trainer.build()
    return trainer.explainer.decoder, lambda wav: trainer.loss(wav, wav)[0], cfg["batch_size"]


def lmac_td_objective(config: dict, alpha: float):
    trainer = _trainer(LmacTDTrainer, config["lmac_td"], classifier(config), alpha=float(alpha))
    trainer.explainer = trainer.build()
    return trainer.explainer, lambda wav: trainer.loss(wav, wav)[0], config["lmac_td"]["batch_size"]


def random_dictionary(config: dict) -> torch.Tensor:
    n_freqs = FrontEndConfig.from_dict(config["frontend"]).n_freqs
    return torch.rand(n_freqs, config["nmf"]["components"], device=DEVICE)


def l2i_explainer(config: dict, clf: AudioClassifier) -> L2IExplainer:
    return L2IExplainer(
        clf, random_dictionary(config), clf.frontend.cfg.n_frames(clip_samples(config)), config["l2i"]["relevance_th"]
    ).to(DEVICE)


def l2i_objective(config: dict):
    trainer = _trainer(L2ITrainer, config["l2i"], classifier(config))
    trainer.explainer, trainer.weights = l2i_explainer(config, trainer.classifier), loss_weights(config["l2i"]["loss"])
    return trainer.explainer, lambda wav: trainer.loss(wav, wav)[0], config["l2i"]["batch_size"]


def encoder_decoder_objective(config: dict):
    cfg = config["lmac_td"]
    model = EncoderDecoder(resolve_arch(cfg.get("preset") or DEFAULT_PRESET, cfg.get("scale"))).to(DEVICE)
    return model, lambda wav: -si_snr(model(wav), wav).mean(), ed_settings(cfg)["batch_size"]


def encoder_decoder_crops(config: dict) -> torch.Tensor:
    cfg = config["lmac_td"]
    ed, arch = ed_settings(cfg), resolve_arch(cfg.get("preset") or DEFAULT_PRESET, cfg.get("scale"))
    crop = max(arch.kernel_size, int(round(ed["crop_seconds"] * config["dataset"]["sample_rate"])))
    return 0.1 * torch.randn(ed["batch_size"], crop, device=DEVICE)


def objectives(config: dict) -> dict[str, Callable[[], tuple]]:
    """{trained model: its objective} of every training rule the config can run."""
    alphas = config.get("lmac_td", {}).get("alphas", [])
    return {
        "classifier": lambda: classifier_objective(config),
        "lmac": lambda: lmac_objective(config),
        "lmac_ft": lambda: lmac_objective(config, finetune=True),
        **{f"lmac_td_a{a:g}": (lambda a=a: lmac_td_objective(config, a)) for a in alphas},
        "l2i": lambda: l2i_objective(config),
        "lmac_td_encoder_decoder": lambda: encoder_decoder_objective(config),
    }


def training_unit(config: dict, model: str, validation: bool = False) -> Step:
    module, loss_fn, size = objectives(config)[model]()
    if model == "lmac_td_encoder_decoder" and not validation:
        wav = encoder_decoder_crops(config)  # it trains on short crops, validates on whole clips
    else:
        wav = batch(config, size)
    return validation_step(loss_fn, wav) if validation else optimiser_step(module, loss_fn, wav)


def nmf_iteration(config: dict) -> Step:
    """One multiplicative update of the dictionary on every training frame (``lmac.explainers.nmf``)."""
    frontend = FrontEndConfig.from_dict(config["frontend"])
    n_frames = dataset_size(config)["train"] * frontend.n_frames(clip_samples(config))
    frames = torch.rand(frontend.n_freqs, n_frames, device=DEVICE)
    return lambda: fit_nmf(frames, config["nmf"]["components"], 1, 0)


def explainer(config: dict, method: str, clf: AudioClassifier) -> Explainer:
    """An untrained explainer of ``method`` on ``clf``, of the configured size and settings."""
    if method in ("lmac", "lmac_ft"):  # FT fine-tunes the same decoder
        lmac = config["lmac"]
        return LmacExplainer(clf, lmac.get("mask_domain", "log1p"), lmac.get("frames", "pad")).to(DEVICE).eval()
    if method.startswith("lmac_td_a"):
        trainer = _trainer(LmacTDTrainer, config["lmac_td"], clf, alpha=float(method[len("lmac_td_a") :]))
        return trainer.build().eval()
    if method == "l2i":
        return l2i_explainer(config, clf).eval()
    from lmac.explainers.gradient import build_baseline

    return build_baseline(method, clf, config.get("baselines", {}).get(method, {}))


def evaluation_run(config: dict, clf: AudioClassifier, n_clips: int) -> _Run:
    """``_Run`` of the clean condition on ``n_clips`` random clips, with the config's evaluation settings."""
    job = EvalJob.from_config(config, "all_ones", "clean")
    audio = np.asarray(0.1 * np.random.default_rng(0).standard_normal((n_clips, clip_samples(config))), np.float32)
    data = Split(audio, np.arange(n_clips), np.zeros(n_clips, np.int64), [f"clip{i}" for i in range(n_clips)])
    condition = make_condition("clean", seed=job.seed, peak=job.peak)
    return _Run(job, DEVICE, data, clf.classes, clf, condition, None)


def evaluation_unit(config: dict, method: str | None) -> Step:
    """One evaluation batch: the passes every method shares (``method`` None), or one method's explanation
    and scores, after the shared passes (which are not counted: they run once per batch)."""
    clf = classifier(config)
    run = evaluation_run(config, clf, config["evaluation"]["batch_size"])
    version, contaminated, labels, ids = next(run.items())
    if method is None:
        return lambda: run.batch(version, contaminated, labels, ids)
    item = run.batch(version, contaminated, labels, ids)
    exp = explainer(config, method, clf)

    def step():
        run.score(run.explain(exp, item)[0], item)

    return step


def explanation_unit(config: dict, method: str, batch_size: int) -> Step:
    """One batch of explanations of the predicted class, as the sanity checks compute them (no scores)."""
    clf = classifier(config)
    exp, wav = explainer(config, method, clf), batch(config, batch_size)

    def step():
        with torch.no_grad():
            target = clf(wav)[0].argmax(-1)
        exp.explain(wav, exp.decision(wav, target))

    return step


def is_class_conditional(config: dict, method: str) -> bool:
    """Whether ``method``'s explanation takes a class (the random-logit check runs for it)."""
    from lmac.explainers.gradient import BASELINES

    if method in BASELINES:
        return BASELINES[method].class_conditional
    learned = {"l2i": L2IExplainer}.get(method, LmacTDExplainer if method.startswith("lmac_td_a") else LmacExplainer)
    return learned.class_conditional


def ceil_div(a: int, b: int) -> int:
    return math.ceil(a / b)


def prediction_unit(config: dict) -> Step:
    """One batch of the classifier's predictions (the sanity checks' first passes)."""
    clf, wav = classifier(config), batch(config, config["sanity"]["batch_size"])

    def step():
        with torch.no_grad():
            clf(wav)

    return step


def unit(config: dict, name: str) -> Step:
    """The step of unit ``name``: ``train/<model>``, ``valid/<model>``, ``nmf``, ``evaluate/shared``,
    ``evaluate/<method>``, ``explain/<method>`` or ``predict`` (the names ``budget_plan`` uses)."""
    kind, _, what = name.partition("/")
    if kind in ("train", "valid"):
        return training_unit(config, what, validation=kind == "valid")
    if kind == "evaluate":
        return evaluation_unit(config, None if what == "shared" else what)
    if kind == "explain":
        return explanation_unit(config, what, config["sanity"]["batch_size"])
    if name == "nmf":
        return nmf_iteration(config)
    if name == "predict":
        return prediction_unit(config)
    raise ValueError(f"unknown unit {name!r}")


def samples(config: dict, name: str) -> int:
    """Clips one call of unit ``name`` processes (its batch), for samples/s."""
    kind, _, what = name.partition("/")
    if kind in ("train", "valid"):
        if what == "lmac_ft":
            return finetune_config(config["lmac"], config.get("lmac_ft"))[0]["batch_size"]
        if what == "lmac_td_encoder_decoder":
            return ed_settings(config["lmac_td"])["batch_size"]
        return config["lmac_td" if what.startswith("lmac_td_a") else what]["batch_size"]
    if kind == "evaluate":
        return config["evaluation"]["batch_size"]
    if name == "nmf":
        return dataset_size(config)["train"]
    return config["sanity"]["batch_size"]

"""lmac: run any pipeline step by hand, with the workflow's validated configuration.

Each subcommand reads ``--config`` (default ``config/config.yaml``), checks it against the
workflow's schema (one-line error naming the key), and runs what the Snakemake rule runs: a
training is the same job (:mod:`lmac.jobs`), built from the config by the same ``from_config``.
Bad input exits with status 2 and one line, never a traceback: a wrong option, config, device,
digest, URL, input path or output folder is found before any work starts.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import NoReturn

from .config import validated_config
from .errors import LmacError, fail, run_guarded
from .io import check_output_dir, check_output_file
from .logs import setup_logging
from .yaml_inputs import read_yaml


def load_config(path: str) -> dict:
    """The config file, checked against the workflow's schema and completed with its defaults, as the workflow does."""
    return validated_config(read_yaml(path, "config file") or {})


# Checks of the options, run before the step so that a bad one fails in a second, not after the work.


def _out(args) -> Path:
    return check_output_dir(args.out, "--out")


def _device(args, cfg) -> str:
    from .training import pick_device

    device = args.device or cfg.get("device", "auto")
    pick_device(device)
    return device


def _folder(value: str | None, option: str) -> str | None:
    """An optional input folder: absent is fine, a path that is no folder is a typo to report now."""
    if value is not None and not Path(value).is_dir():
        raise LmacError(f"{option} {value}: no such folder")
    return value


def _source(args, cfg: dict, name: str) -> tuple[str, str | None]:
    """(URL, sha256) of dataset ``name``: the options, else the config's, checked before any request."""
    from .data.download import check_sha256, check_url

    section = (cfg.get("dataset") or {}).get(name) or {}
    key = f"config key 'dataset.{name}"
    url = check_url(args.url, "--url") if args.url is not None else check_url(section.get("url"), f"{key}.url'")
    sha256 = (
        check_sha256(args.sha256, "--sha256")
        if args.sha256 is not None
        else check_sha256(section.get("sha256"), f"{key}.sha256'")
    )
    check_output_file(args.archive, "--archive")
    check_output_dir(args.out, "--out")
    return url, sha256


def _synthesize(args, cfg):
    from .data.synthetic import generate_synthetic_dataset
    from .frontend import FrontEndConfig

    d = cfg["dataset"]
    _out(args)
    generate_synthetic_dataset(
        args.out,
        {**d.get("synthetic", {}), "sample_rate": d["sample_rate"], "clip_seconds": d["clip_seconds"]},
        FrontEndConfig.from_dict({**cfg["frontend"], "sample_rate": d["sample_rate"]}),
        cfg["seed"],
    )


def _download(args, cfg):
    from .data.download import fetch_archive

    url, sha256 = _source(args, cfg, "esc50")
    fetch_archive(url, sha256, args.archive, args.out)


def _prepare(args, cfg):
    from .data.prepare import prepare_dataset
    from .jobs import prepare_settings

    if not Path(args.raw).is_dir():
        raise LmacError(f"--raw {args.raw}: no such folder (an ESC-50-layout folder: meta/esc50.csv, audio/)")
    _out(args)
    prepare_dataset(args.raw, args.out, **prepare_settings(cfg["dataset"]))


def _train(job: str, **own: str):
    """A training command: ``job`` ("module:Class") built by its ``from_config`` from the config and
    the options (``own``: {argument of from_config: option}), whose folders are checked first."""

    def command(args, cfg):
        from .jobs import Outputs

        out, device, wham = _out(args), _device(args, cfg), _folder(args.wham, "--wham")
        module, name = job.split(":")
        job_class = getattr(importlib.import_module(module, __package__), name)
        arguments = {key: getattr(args, option) for key, option in own.items()}
        job_class.from_config(
            cfg, prepared_dir=args.data, outputs=Outputs.in_folder(out), device=device, wham_dir=wham, **arguments
        ).run()

    return command


# {command: (help, job, {argument of the job's from_config: option})}; every one also takes --data,
# --wham, --out and --device
TRAININGS = {
    "train-classifier": ("train the classifier", ".classifier.train:ClassifierJob", {}),
    "train-lmac": (
        "L-MAC: train the decoder on a frozen classifier",
        ".explainers.train_lmac:LmacJob",
        {"classifier_path": "classifier"},
    ),
    "train-lmac-ft": (
        "L-MAC FT: fine-tune a trained L-MAC decoder with guidance",
        ".explainers.train_lmac:LmacFTJob",
        {"classifier_path": "classifier", "init": "init"},
    ),
    "pretrain-lmac-td-ed": (
        "pre-train LMAC-TD's encoder/decoder as an autoencoder of the training audio",
        ".explainers.lmac_td_autoencoder:AutoencoderJob",
        {},
    ),
    "train-lmac-td": (
        "LMAC-TD: train one time-domain explainer (one mixing weight) on a frozen classifier",
        ".explainers.train_lmac_td:LmacTDJob",
        {"classifier_path": "classifier", "alpha": "alpha", "encoder_decoder": "encoder_decoder"},
    ),
    "train-nmf": ("L2I: learn the NMF dictionary on the training split", ".explainers.nmf:NmfJob", {}),
    "train-l2i": (
        "L2I: train ψ and θ on a frozen classifier and an NMF dictionary",
        ".explainers.train_l2i:L2IJob",
        {"classifier_path": "classifier", "dictionary_path": "dictionary"},
    ),
}
# the options beyond --data, --wham, --out and --device: {option: (add_argument keywords)}
TRAINING_OPTIONS = {
    "classifier": {"required": True, "help": "classifier checkpoint"},
    "init": {"required": True, "help": "trained L-MAC checkpoint to start from"},
    "alpha": {"required": True, "type": float, "help": "the mixing weight α (one of lmac_td.alphas, or any)"},
    "dictionary": {"required": True, "help": "NMF dictionary (lmac train-nmf)"},
    "encoder_decoder": {
        "help": "pre-trained encoder/decoder (lmac pretrain-lmac-td-ed), needed when "
        "lmac_td.encoder_decoder.pretrain is true"
    },
}


def _download_dataset(args, cfg):
    from .data.download import fetch_archive

    marker = {"wham": "metadata/noise_meta_tr.csv", "ljspeech": "metadata.csv"}[args.dataset]
    url, sha256 = _source(args, cfg, args.dataset)
    fetch_archive(url, sha256, args.archive, args.out, marker=marker)


def _evaluate(args, cfg):
    from .evaluation.evaluate import EvalJob, evaluate_methods, learned_checkpoints

    out, device = _out(args), _device(args, cfg)
    jobs = EvalJob.group_from_config(
        cfg,
        args.method,
        args.condition,
        explainer_paths=learned_checkpoints(args.method, args.explainer or []),
        event_masks=args.event_masks,
        wham_dir=_folder(args.wham, "--wham"),
        ljspeech_dir=_folder(args.ljspeech, "--ljspeech"),
        split=args.split,
    )
    outputs = [(str(out / f"{m}.csv"), str(out / f"{m}.npz")) for m in args.method]
    evaluate_methods(args.data, args.classifier, jobs, outputs, device=device)


def _explain(args, cfg):
    from .compute import Compute
    from .explain import explain_files

    explain_files(
        args.audio,
        args.out,
        classifier_path=args.classifier,
        explainer_path=args.explainer,
        top_k=args.top_k,
        device=args.device,
        normalisation=args.normalisation,
        window=args.window,
        hop=args.hop,
        whole_file=args.whole_file,
        compute=Compute(precision=args.precision),
    )


def _listening_analyse(args, cfg):
    from .listening.analysis import Claim, write_analysis

    write_analysis(args.ratings, _out(args), args.n_boot, args.seed, Claim(args.method, args.versus))


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad option reported as lmac reports every error: one line, exit status 2.

    argparse's own report puts the usage text before the message, several lines for one mistake.
    """

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("lmac").strip()  # subparsers are named "lmac <command>"
        fail(f"{command + ': ' if command else ''}{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lmac", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml", help="workflow config (YAML)")
    parser.add_argument("--log", help="also write the log to this file")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synthesize", help="generate the embedded synthetic dataset (ESC-50 layout)")
    p.add_argument("--out", required=True)
    p.set_defaults(run=_synthesize)

    p = sub.add_parser("download-esc50", help="download and extract ESC-50 (resumable, checksummed)")
    p.add_argument("--out", required=True, help="folder to extract into")
    p.add_argument("--archive", required=True, help="where to keep the downloaded archive")
    p.add_argument("--url")
    p.add_argument("--sha256")
    p.set_defaults(run=_download)

    p = sub.add_parser("prepare", help="prepare an ESC-50-layout folder into training arrays")
    p.add_argument("--raw", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=_prepare)

    for name, (help_, job, own) in TRAININGS.items():
        p = sub.add_parser(name, help=help_)
        p.add_argument("--data", required=True, help="prepared dataset folder")
        for option in dict.fromkeys(own.values()):
            p.add_argument(f"--{option.replace('_', '-')}", dest=option, **TRAINING_OPTIONS[option])
        p.add_argument("--wham", help="extracted WHAM! folder (noise.source: wham)")
        p.add_argument("--out", required=True, help="output folder")
        p.add_argument("--device", help="auto, cpu, cuda, cuda:N (default: the config's)")
        p.set_defaults(run=_train(job, **own))

    p = sub.add_parser("evaluate", help="evaluate explanation methods under one input condition")
    p.add_argument("--data", required=True, help="prepared dataset folder")
    p.add_argument("--classifier", required=True, help="classifier checkpoint")
    p.add_argument(
        "--method",
        required=True,
        nargs="+",
        help="lmac, lmac_ft, lmac_td_a<α>, l2i or a baseline (saliency, ig, …); several are "
        "evaluated in one pass over the data, each written to OUT/<method>.csv and .npz",
    )
    p.add_argument("--explainer", nargs="+", help="trained checkpoints of the learned methods, in their order")
    p.add_argument("--condition", default="clean", choices=["clean", "in_domain", "mixture", "speech", "white_noise"])
    p.add_argument("--split", choices=["train", "valid", "test"], help="default: the config's")
    p.add_argument("--event-masks", help="ground_truth_masks.npz of the synthetic dataset (localisation)")
    p.add_argument("--wham", help="extracted WHAM! folder (noise.source: wham)")
    p.add_argument("--ljspeech", help="extracted LJSpeech folder (evaluation.speech: ljspeech)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N (default: the config's)")
    p.set_defaults(run=_evaluate)

    # explain reads everything it needs from the checkpoints, so it runs anywhere, without --config
    p = sub.add_parser("explain", help="explain audio files: listenable explanation, figure and metrics per file")
    p.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files (WAV, FLAC, OGG, ...; any rate and channels)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--classifier", help="classifier checkpoint (default: results/embedded/classifier/model.pt)")
    p.add_argument(
        "--explainer",
        help="explainer checkpoint: L-MAC, L-MAC FT, LMAC-TD or L2I "
        "(default: results/embedded/explainers/lmac/seed1234/model.pt), or a baseline's "
        "name (saliency, ig, smoothgrad, gradcam, ...) with its default settings",
    )
    p.add_argument("--top-k", type=int, default=5, help="class probabilities to report (default: 5)")
    p.add_argument(
        "--normalisation",
        default="peak_abs",
        help="peak_abs (default), peak_signed or none: as the classifier's training data were",
    )
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "tf32"],
        help="fp32 (default), bf16 (autocast) or tf32 (CUDA matmuls; a no-op on the CPU): as compute.precision",
    )
    p.add_argument(
        "--window",
        type=float,
        metavar="SECONDS",
        help="explain longer inputs in windows of this length (default: the classifier's training "
        "clip length, recorded in its checkpoint; 5 s for checkpoints that predate that)",
    )
    p.add_argument(
        "--hop",
        type=float,
        metavar="SECONDS",
        help="distance between window starts (default: the window, no overlap); overlapping "
        "windows are cross-faded in the WAVs",
    )
    p.add_argument(
        "--whole-file",
        action="store_true",
        help="explain each input as one clip, however long (the clip-level decision; memory grows "
        "with the input's length)",
    )
    p.set_defaults(run=_explain, needs_config=False)

    p = sub.add_parser("download", help="download and extract WHAM! noise or LJSpeech (resumable, checksummed)")
    p.add_argument("dataset", choices=["wham", "ljspeech"])
    p.add_argument("--out", required=True, help="folder to extract into")
    p.add_argument("--archive", required=True, help="where to keep the downloaded archive")
    p.add_argument("--url", help="default: the config's dataset.<name>.url")
    p.add_argument("--sha256", help="default: the config's dataset.<name>.sha256")
    p.set_defaults(run=_download_dataset)

    p = sub.add_parser(
        "listening-analyse",
        help="analyse listening-test ratings: post-screening, mean scores with 95 %% CIs, paired comparisons, verdict",
    )
    p.add_argument("ratings", nargs="+", metavar="RATINGS", help="ratings CSV files saved by the listening test's page")
    p.add_argument(
        "--out", required=True, help="output folder (listening.md/.html, scores/comparisons/verdict CSV, scores.png)"
    )
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: 0)")
    p.add_argument(
        "--method", default="lmac_td", help="the claim's method, or the prefix of its variants (default: lmac_td)"
    )
    p.add_argument("--versus", default="lmac", help="the method it should be rated above (default: lmac)")
    p.set_defaults(run=_listening_analyse, needs_config=False)
    return parser


def _run(args) -> None:
    if args.log is not None:
        check_output_file(args.log, "--log").parent.mkdir(parents=True, exist_ok=True)
    setup_logging(args.log)
    args.run(args, load_config(args.config) if getattr(args, "needs_config", True) else {})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_guarded(lambda: _run(args))


if __name__ == "__main__":
    raise SystemExit(main())

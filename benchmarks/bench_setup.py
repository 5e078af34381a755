"""What the explainer benchmarks share: the two scales, a random classifier and input, the machine."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lmac.classifier.model import AudioClassifier  # noqa: E402

# CNN14 width and clip length; ESC-50's 50 classes, 16 kHz
SCALES = {"embedded": {"width": 0.0625, "seconds": 3.0}, "paper": {"width": 1.0, "seconds": 5.0}}
SR = 16000


def add_common_arguments(parser: argparse.ArgumentParser, batch: int, repeats: int, out: str) -> None:
    parser.add_argument("--scales", nargs="+", default=list(SCALES), choices=list(SCALES))
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--devices", nargs="+", default=["cpu", *(["cuda"] if torch.cuda.is_available() else [])])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / out))


def settings(args) -> Iterator[tuple[str, str, torch.device, AudioClassifier, torch.Tensor]]:
    """(scale, device name, device, frozen random classifier, random batch) for every scale × device."""
    for scale_name in args.scales:
        scale = SCALES[scale_name]
        for device_name in args.devices:
            device = torch.device(device_name)
            torch.manual_seed(0)
            classifier = AudioClassifier([f"c{i}" for i in range(50)], width=scale["width"]).to(device).eval()
            classifier.requires_grad_(False)
            wav = torch.randn(args.batch, int(scale["seconds"] * SR), device=device) * 0.1
            yield scale_name, device_name, device, classifier, wav


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }

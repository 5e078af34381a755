"""Explanation files and per-clip scores shaped as an evaluation writes them, for the listening tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CLIP_SECONDS = 0.5


def tone(freq: float, rate: int, seconds: float = CLIP_SECONDS, level: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_evaluation(
    folder: Path, condition: str, methods: list[str], clips: int = 2, rate: int = 16000
) -> tuple[dict[str, str], dict[str, str]]:
    """({method: npz}, {method: csv}) of one condition: clip k's target is a tone, its input the tone plus
    noise (clean: the tone alone), method m's explanation the target at level 0.1·(m+1)."""
    rng = np.random.default_rng(0)
    ids = [f"clip{k}" for k in range(clips)]
    target = np.stack([tone(300 * (k + 1), rate) for k in range(clips)])
    noisy = condition != "clean"
    inputs = target + (0.3 * rng.standard_normal(target.shape)).astype(np.float32) * noisy
    npz, csv = {}, {}
    for j, method in enumerate(methods):
        path = folder / condition / method
        path.mkdir(parents=True, exist_ok=True)
        np.savez(
            path / "seed1.npz",
            ids=np.array(ids),
            sample_rate=np.array(rate),
            waveform=(0.1 * (j + 1) * target)[:, None, :],
            input=inputs[:, None, :],
            target=target[:, None, :],
        )
        rows = [
            {"id": c, "version": v, "label": f"class{k}", "predicted": f"class{k}", "AI": 10.0 * j + k, "FidIn": 0.5}
            for k, c in enumerate(ids * 2)
            for v in [k // clips]
        ]
        pd.DataFrame(rows).to_csv(path / "seed1.csv", index=False)
        npz[method], csv[method] = str(path / "seed1.npz"), str(path / "seed1.csv")
    return npz, csv


def simulated_ratings(
    folder: Path,
    true_means: dict[str, float],
    participants: int = 12,
    trials: int = 8,
    noise: float = 8.0,
    careless: int = 0,
    seed: int = 0,
) -> list[Path]:
    """One MUSHRA ratings file per simulated participant, as the kit's page saves them: each rates stimulus s
    at true_means[s] + a per-participant offset + noise (clipped to 0-100); the `careless` last ones rate
    the hidden reference like any other sound (around 50), so post-screening must exclude them."""
    rng = np.random.default_rng(seed)
    paths = []
    for p in range(participants):
        bad = p >= participants - careless
        offset = rng.normal(0, 5)
        rows = []
        for t in range(trials):
            for k, (stimulus, mean) in enumerate(rng.permutation(list(true_means.items()))):
                mean = 50.0 if bad and stimulus == "reference" else float(mean)
                value = mean if stimulus == "reference" and not bad else mean + offset + rng.normal(0, noise)
                rows.append(
                    {
                        "participant": f"p{p:02d}",
                        "session_seed": 1,
                        "mode": "mushra",
                        "trial": f"mixture/clip{t}",
                        "condition": "mixture",
                        "clip": f"clip{t}",
                        "trial_position": t + 1,
                        "stimulus": stimulus,
                        "shown_as": chr(65 + k),
                        "rating": int(np.clip(round(value), 0, 100)),
                        "submitted": "2025-01-01T00:00:00Z",
                    }
                )
        path = folder / f"ratings_p{p:02d}.csv"
        pd.DataFrame(rows).to_csv(path, index=False)
        paths.append(path)
    return paths

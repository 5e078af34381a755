"""Peak memory and wall time of ``lmac explain`` on long audio: 10 s, 10 min and 60 min, L-MAC and LMAC-TD.

Each measurement is one ``lmac explain`` in a child process; its peak RSS is that child's own
(``os.wait4``), so earlier runs never inflate a later one. Inputs are 16 kHz mono 16-bit WAVs of
noise bursts and tones (what the audio holds does not change the cost), written block by block.
Windowed runs use the classifier's clip length (``--window`` for checkpoints that predate
recording it); ``--whole-file`` runs show what explaining everything as one clip costs, at the
durations given by ``--whole-file-seconds`` (the memory grows with the input's length there).

    .venv/bin/python benchmarks/explain_long_audio.py --classifier results/embedded/classifier/model.pt \\
        --lmac results/embedded/explainers/lmac/seed1234/model.pt \\
        --lmac-td results/embedded/explainers/lmac_td_a0.75/seed1234/model.pt [--window 2]

Writes ``benchmarks/explain_long_audio.json`` (date, machine, cores, load, checkpoints' sha256,
one row per run) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lmac.data.download import sha256_file  # noqa: E402

RATE = 16000
BLOCK_S = 60


def write_input(path: Path, seconds: float, seed: int = 0) -> None:
    """Noise bursts and tones at changing levels, one minute at a time (bounded memory here too)."""
    rng = np.random.default_rng(seed)
    total = round(seconds * RATE)
    with sf.SoundFile(path, "w", samplerate=RATE, channels=1, subtype="PCM_16", format="WAV") as out:
        for start in range(0, total, BLOCK_S * RATE):
            n = min(BLOCK_S * RATE, total - start)
            t = (start + np.arange(n)) / RATE
            level = np.repeat(rng.uniform(0.05, 0.6, n // RATE + 1), RATE)[:n]
            tone = np.sin(2 * np.pi * rng.uniform(200, 3000) * t)
            burst = rng.standard_normal(n) * (np.sin(2 * np.pi * 0.25 * t) > 0.5)
            out.write((level * (0.6 * tone + 0.4 * burst)).clip(-1, 1).astype(np.float32))


def measure(audio: Path, out: Path, classifier: str, explainer: str, extra: list[str], threads: int) -> dict:
    """Run ``lmac explain`` in a child; its wall time and peak RSS."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    command = [
        sys.executable,
        "-m",
        "lmac.cli",
        "explain",
        str(audio),
        "-o",
        str(out),
        "--classifier",
        classifier,
        "--explainer",
        explainer,
        "--device",
        "cpu",
        *extra,
    ]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            log.seek(0)
            raise SystemExit(f"lmac explain failed ({code}): {' '.join(command)}\n{log.read().decode()[-2000:]}")
    record = json.loads((out / f"{audio.stem}.json").read_text())
    return {
        "wall_s": round(wall, 2),
        "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "windows": len(record["windows"]),
        "mode": record["mode"],
    }


def shown_path(path: str) -> str:
    """The path from its ``results/`` folder on (where the workflow put it), not this machine's layout."""
    parts = Path(path).parts
    return str(Path(*parts[parts.index("results") :])) if "results" in parts else Path(path).name


def machine() -> dict:
    import torch

    model = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            None,
        )
        if Path("/proc/cpuinfo").is_file()
        else None
    )
    memory = None
    if Path("/proc/meminfo").is_file():
        total_kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = round(total_kib / 2**20, 1)
    return {
        "cpu_count": os.cpu_count(),
        "processor": model or platform.processor() or platform.machine(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def table(bench: dict) -> str:
    rows = bench["runs"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = [
        "| input | explained as | " + " | ".join(f"{m} wall time | {m} peak RSS" for m in methods) + " |",
        "|---|---|" + "---|---|" * len(methods),
    ]
    for seconds, whole in dict.fromkeys((r["seconds"], r["whole_file"]) for r in rows):
        found = {r["method"]: r for r in rows if (r["seconds"], r["whole_file"]) == (seconds, whole)}
        any_row = next(iter(found.values()))
        cells = [
            f"{found[m]['wall_s']:.0f} s | {found[m]['max_rss_mib']:.0f} MiB" if m in found else "– | –"
            for m in methods
        ]
        label = f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
        mode = "one clip (--whole-file)" if whole else f"{any_row['windows']} windows"
        lines.append(f"| {label} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", required=True)
    parser.add_argument("--lmac", required=True, help="an L-MAC checkpoint")
    parser.add_argument("--lmac-td", required=True, help="an LMAC-TD checkpoint")
    parser.add_argument("--window", type=float, help="seconds (default: the classifier checkpoint's clip length)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 600, 3600])
    parser.add_argument("--whole-file-seconds", type=float, nargs="*", default=[10, 60, 600])
    parser.add_argument("--whole-file-methods", nargs="*", default=["lmac"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "explain_long_audio.json"))
    args = parser.parse_args()

    explainers = {"lmac": args.lmac, "lmac_td": args.lmac_td}
    window = ["--window", str(args.window)] if args.window else []
    plan = [(m, s, False) for s in args.seconds for m in explainers]
    plan += [(m, s, True) for s in args.whole_file_seconds for m in args.whole_file_methods]
    load_before = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory(prefix="lmac-bench-explain-") as work:
        work = Path(work)
        for method, seconds, whole in plan:
            audio = work / f"input_{seconds:g}s.wav"
            if not audio.exists():
                write_input(audio, seconds)
            out = work / f"out_{method}_{seconds:g}_{int(whole)}"
            row = measure(
                audio, out, args.classifier, explainers[method], ["--whole-file"] if whole else window, args.threads
            )
            row.update(method=method, seconds=seconds, whole_file=whole)
            runs.append(row)
            print(
                f"{method:8s} {seconds:6g} s {'whole file' if whole else 'windows':10s} "
                f"{row['wall_s']:8.1f} s {row['max_rss_mib']:8.0f} MiB ({row['windows']} windows)",
                flush=True,
            )
            for path in out.iterdir():  # a 60-minute run writes 460 MB of WAVs
                path.unlink()
    bench = {
        "date": dt.date.today().isoformat(),
        "cores": len(os.sched_getaffinity(0)),
        "threads": args.threads,
        "machine": machine(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "window_s": args.window,
        "sample_rate": RATE,
        "checkpoints": {
            name: {"path": shown_path(path), "sha256": sha256_file(path)}
            for name, path in (("classifier", args.classifier), *explainers.items())
        },
        "runs": runs,
    }
    Path(args.out).write_text(json.dumps(bench, indent=2) + "\n")
    print(table(bench))


if __name__ == "__main__":
    main()

"""Test helpers: a tiny ESC-50-layout dataset, its zip, and a loopback HTTP file server.

Tests must never touch the network, so downloads are exercised against ``serve_files`` on
127.0.0.1 (an ephemeral port).  The server can misbehave on purpose -- 503 answers, bodies cut
short, no Range support -- to test retry and resume.  pyproject's pytest ``pythonpath`` makes it
importable as a top-level module.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import re
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

# The first ESC-50 categories in target order; further classes get synthetic names.
ESC50_NAMES = ["dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow"]
ESC10_TARGETS = {0, 1, 10, 11, 12, 20, 21, 38, 40, 41}


def class_name(target: int) -> str:
    return ESC50_NAMES[target] if target < len(ESC50_NAMES) else f"class_{target:02d}"


def make_esc50_folder(
    root,
    n_classes: int = 3,
    clips_per_fold: int = 1,
    sr: int = 44100,
    seconds: float = 0.5,
    stereo_some: bool = True,
    top: str | None = "ESC-50-master",
    seed: int = 0,
) -> Path:
    """Write ``root/top/{audio/*.wav, meta/esc50.csv}`` and return ``root/top``.

    Five folds x ``n_classes`` x ``clips_per_fold`` clips of random noise, named like the real
    dataset ``{fold}-{src}-{take}-{target}.wav``; every third clip is stereo if ``stereo_some``.
    Rows are sorted by filename, as in the published esc50.csv.
    """
    base = Path(root) / top if top else Path(root)
    (base / "audio").mkdir(parents=True, exist_ok=True)
    (base / "meta").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = int(round(sr * seconds))
    rows = []
    k = 0
    for fold in range(1, 6):
        for target in range(n_classes):
            for c in range(clips_per_fold):
                src = 100000 + 1000 * fold + 10 * target + c
                take = "ABCDEFGH"[c % 8]
                name = f"{fold}-{src}-{take}-{target}.wav"
                n_ch = 2 if stereo_some and k % 3 == 0 else 1
                wav = (rng.uniform(-0.5, 0.5, size=(frames, n_ch))).astype(np.float32)
                sf.write(base / "audio" / name, wav, sr, subtype="PCM_16")
                rows.append(
                    {
                        "filename": name,
                        "fold": fold,
                        "target": target,
                        "category": class_name(target),
                        "esc10": target in ESC10_TARGETS,
                        "src_file": src,
                        "take": take,
                    }
                )
                k += 1
    meta = pd.DataFrame(rows).sort_values("filename").reset_index(drop=True)
    meta.to_csv(base / "meta" / "esc50.csv", index=False)
    return base


def sha256_of(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def zip_folder(folder, zip_path, arcroot: str | None = None) -> Path:
    """Zip ``folder`` with members under ``arcroot/`` (default: the folder's name), dirs included."""
    folder, zip_path = Path(folder), Path(zip_path)
    arcroot = folder.name if arcroot is None else arcroot
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted([folder, *folder.rglob("*")]):
            rel = path.relative_to(folder).as_posix()
            arc = "/".join(p for p in (arcroot, "" if rel == "." else rel) if p)
            if path.is_dir():
                if arc:
                    zf.writestr(arc + "/", "")
            else:
                zf.write(path, arc)
    return zip_path


def make_esc50_zip(tmpdir, **kw) -> tuple[Path, str]:
    """Build a tiny ESC-50 folder under ``tmpdir/src`` and zip it like GitHub's archive.

    Returns ``(zip_path, sha256)``; keyword arguments go to ``make_esc50_folder``.
    """
    tmpdir = Path(tmpdir)
    kw.setdefault("top", "ESC-50-master")
    folder = make_esc50_folder(tmpdir / "src", **kw)
    zip_path = zip_folder(folder, tmpdir / "master.zip", arcroot=kw["top"] or "")
    return zip_path, sha256_of(zip_path)


@dataclass
class ServerStats:
    """What the loopback server saw: one (path, Range header or None, status) per request."""

    requests: list[tuple[str, str | None, int]] = field(default_factory=list)

    @property
    def ranges(self) -> list[str]:
        return [r for _, r, _ in self.requests if r is not None]

    @property
    def count(self) -> int:
        return len(self.requests)


_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@contextlib.contextmanager
def serve_files(
    directory, *, fail_first_n: int = 0, truncate_first_n: int = 0, support_range: bool = True
) -> Iterator[tuple[str, ServerStats]]:
    """Serve ``directory`` on 127.0.0.1; yield ``(base_url, stats)``.

    Requests are numbered in arrival order: the first ``fail_first_n`` get 503; the next
    ``truncate_first_n`` get full headers (true Content-Length) but only half the body before the
    connection is dropped.  ``Range: bytes=N-[M]`` is answered with 206 unless
    ``support_range=False`` (then the whole file comes back with 200, as some servers do).
    """
    directory = Path(directory).resolve()
    stats = ServerStats()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def _record(self, status: int) -> None:
            with lock:
                stats.requests[self.number] = (self.path, self.headers.get("Range"), status)

        def do_GET(self):
            target = (directory / self.path.split("?", 1)[0].lstrip("/")).resolve()
            with lock:  # reserve this request's number before anything else can interleave
                number = self.number = len(stats.requests)
                stats.requests.append((self.path, self.headers.get("Range"), 0))
            if number < fail_first_n:
                self._record(503)
                self._reply(503, b"try again later")
                return
            if directory not in target.parents or not target.is_file():
                self._record(404)
                self._reply(404, b"not found")
                return
            data = target.read_bytes()
            status, start, end = 200, 0, len(data)
            match = _RANGE.match(self.headers.get("Range", "") or "")
            if support_range and match:
                start = int(match.group(1))
                end = min(int(match.group(2)) + 1, len(data)) if match.group(2) else len(data)
                if start >= len(data):
                    self._record(416)
                    self._reply(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                    return
                status = 206
            body = data[start:end]
            self._record(status)
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes" if support_range else "none")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
            self.end_headers()
            if number < fail_first_n + truncate_first_n:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(body)

        def _reply(self, status: int, body: bytes, headers: dict | None = None):
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stats
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- a prepared synthetic dataset with a random-weight classifier and L-MAC explainer ----------------

TINY_SR = 16000
TINY_SYNTH = {
    "n_classes": 3,
    "clips_per_class": 5,
    "n_folds": 5,
    "clip_seconds": 1.0,
    "sample_rate": TINY_SR,
    "event_seconds": [0.2, 0.5],
    "event_snr_db": [0, 10],
    "n_distractors": [0, 1],
    "distractor_snr_db": [-5, 5],
}


def make_tiny_prepared(root: Path) -> dict[str, str]:
    """15 one-second clips (3 classes, folds 1-3 train / 4 valid / 5 test), prepared, plus a random-weight
    width-1/16 classifier (``classifier.pt``, seed 0) and an L-MAC explainer for it (``lmac.pt``)."""
    from model_fixture import tiny_classifier

    from lmac.data.prepare import prepare_dataset
    from lmac.data.synthetic import generate_synthetic_dataset
    from lmac.explainers.lmac import LmacExplainer
    from lmac.frontend import FrontEndConfig

    generate_synthetic_dataset(root / "raw", TINY_SYNTH, FrontEndConfig(sample_rate=TINY_SR), seed=3)
    prepare_dataset(
        root / "raw",
        root / "prepared",
        sample_rate=TINY_SR,
        clip_seconds=1.0,
        splits={"train": [1, 2, 3], "valid": [4], "test": [5]},
    )
    classifier = tiny_classifier()
    classifier.save(root / "classifier.pt")
    LmacExplainer(classifier).save(root / "lmac.pt")
    return {
        "root": str(root),
        "raw": str(root / "raw"),
        "prepared": str(root / "prepared"),
        "classifier": str(root / "classifier.pt"),
        "lmac": str(root / "lmac.pt"),
        "events": str(root / "raw" / "meta" / "ground_truth_masks.npz"),
    }


TINY_CONFIG = Path(__file__).resolve().parent / "workflow" / "tiny.yaml"


def write_config(path: Path, **changes) -> Path:
    """tests/workflow/tiny.yaml with dotted ``section.key=value`` changes (``**{"classifier.epochs": 1}``)."""
    import yaml

    config = yaml.safe_load(TINY_CONFIG.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path

"""Published classifier checkpoints given by URL: where they are stored and how they are fetched.

``classifier.init_checkpoint`` / ``classifier.init_head`` take a local path or a URL. A URL (for
the paper: SpeechBrain's ``embedding_model.ckpt`` / ``classifier.ckpt`` on the HuggingFace hub, as the
reference recipe) is fetched once by the ``download_classifier`` local rule into
``resources/checkpoints/classifier/<file name>``, so GPU jobs and compute nodes never reach a hub;
``train_classifier`` then reads the local copy. Downloads go through
:func:`lmac.data.download.download_file`: resumable, retried, sha256-checked, written atomically.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from ..errors import LmacError

#: Config keys of the classifier section that may name a checkpoint, and their sha256 keys.
INIT_KEYS = {"init_checkpoint": "init_checkpoint_sha256", "init_head": "init_head_sha256"}
CHECKPOINT_DIR = "resources/checkpoints/classifier"
URL_SCHEMES = ("http", "https", "file")


def is_url(value: object) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in URL_SCHEMES


def _file_name(key: str, url: str) -> str:
    name = PurePosixPath(urlsplit(url).path).name
    if not name or name in (".", ".."):
        raise LmacError(f"config key 'classifier.{key}': the URL {url} names no file")
    return name


def downloads(cfg: Mapping, root: str = CHECKPOINT_DIR) -> dict[str, str]:
    """{config key: local path} for every init key of the classifier section that is a URL.

    The local file keeps the URL's file name (``embedding_model.ckpt``, ``classifier.ckpt``), so
    the folder looks like SpeechBrain's; two URLs with the same file name are refused.
    """
    paths = {key: f"{root}/{_file_name(key, cfg[key])}" for key in INIT_KEYS if is_url(cfg.get(key))}
    if len(set(paths.values())) < len(paths):
        raise LmacError(
            f"config keys 'classifier.init_checkpoint' and 'classifier.init_head': both URLs "
            f"name the file {next(iter(paths.values())).rsplit('/', 1)[-1]}; they would overwrite each other"
        )
    return paths


def local_inputs(cfg: Mapping, root: str = CHECKPOINT_DIR) -> dict[str, str]:
    """{config key: file train_classifier reads}: the download target for a URL, the path itself otherwise."""
    fetched = downloads(cfg, root)
    return {key: fetched.get(key, cfg[key]) for key in INIT_KEYS if cfg.get(key)}


def with_local_paths(cfg: Mapping, inputs: Mapping[str, str]) -> dict:
    """The classifier section with each init key pointing at the file the step received."""
    return {**cfg, **{key: str(inputs[key]) for key in INIT_KEYS if key in inputs}}

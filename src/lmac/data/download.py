"""Robust, pinned downloads and safe archive extraction (standard library only).

Why this exists instead of ``speechbrain.utils.fetching.fetch`` + ``shutil.unpack_archive``
(what the reference recipe does):

* ESC-50 is a ~600 MB zip from GitHub; a dropped connection must not restart from zero, so a
  partial download is kept as ``DEST.part`` and resumed with an HTTP ``Range`` request.
* A transient failure (connection reset, timeout, 5xx, body shorter than announced) is retried
  with exponential backoff; a client error (4xx: wrong URL, gone) or an unreadable ``file://``
  URL is not, because retrying cannot fix it. A URL of another scheme or a pin that is not a
  SHA-256 digest is refused before the first request.
* The file only appears under its final name after its SHA-256 matched (``os.replace`` of the
  ``.part``), so a later step never sees a truncated or substituted archive.  An unpinned
  download still works but logs a warning together with the digest to pin.
* Extraction goes to a temporary directory next to the destination and the directory holding
  the marker file (``meta/esc50.csv``) is renamed into place: a corrupt archive or a killed job
  leaves no half-extracted dataset that would look finished.  Members with absolute paths or
  ``..`` components (zip-slip) are refused before anything is written.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit

from ..errors import LmacError

log = logging.getLogger("lmac.data")

CHUNK = 1 << 20  # bytes per read; large enough to keep Python overhead negligible
LOG_EVERY_S = 5.0  # progress lines at most this often
MAX_BACKOFF_S = 120.0  # cap on one retry delay
USER_AGENT = "lmac-downloader/1 (+urllib)"
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
URL_SCHEMES = ("http", "https", "file")  # as the config schema's url pattern


class _Retryable(Exception):
    """A failure worth another attempt (network trouble, 5xx, short body)."""


def check_sha256(value: str | None, what: str = "sha256") -> str | None:
    """``value`` as a lower-case SHA-256 hex digest (None stays None); ``what`` names it in the error.

    A typo in a pin would otherwise surface only after the whole archive (17 GB for WHAM!) was
    fetched, as a checksum mismatch that blames the download.
    """
    if value is None:
        return None
    digest = value.strip().lower() if isinstance(value, str) else value
    if isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest):
        return digest
    if not isinstance(digest, str):
        why = f"a {type(value).__name__}, not a string"
    elif re.fullmatch(r"[0-9a-f]*", digest):
        why = f"{len(digest)} hexadecimal digits, not 64"
    else:
        why = "not hexadecimal"
    raise LmacError(f"{what} {value!r}: not a SHA-256 digest ({why}; expected 64 hexadecimal digits)")


def check_url(url: str | None, what: str = "url") -> str:
    """``url`` if it is one :func:`download_file` can fetch (http, https, file); ``what`` names it."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in URL_SCHEMES or (parts.scheme != "file" and not parts.netloc):
        raise LmacError(f"{what} {url!r}: not a URL lmac downloads from (http://, https:// or file://)")
    return url


def sha256_file(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def _fmt_eta(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def download_file(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None,
    retries: int = 5,
    timeout: float = 60,
    backoff: float = 2.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest``, resuming and retrying; verify ``sha256`` when given.

    ``retries`` is the number of extra attempts after the first (so at most ``retries + 1``
    requests for transient failures); attempt *k* waits ``backoff * 2**(k-1)`` seconds first.
    ``progress(done_bytes, total_bytes_or_None)`` is called after every chunk.
    Returns ``Path(dest)``.  Raises :class:`LmacError` on a URL or digest it cannot use, a 4xx
    answer, a checksum mismatch or when the retries are exhausted.
    """
    check_url(url)
    expected = check_sha256(sha256)
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    if dest.is_dir():
        raise LmacError(f"{dest}: is a folder; give the path of the archive file to download to")

    if dest.exists():
        if expected is None:
            log.warning("%s exists and no sha256 is pinned: using it unverified", dest)
            return dest
        actual = sha256_file(dest)
        if actual == expected:
            log.info("%s already present (sha256 ok)", dest)
            return dest
        # A stale or substituted file: never trust it, fetch a fresh copy.
        log.warning("%s exists but its sha256 is %s, expected %s: downloading again", dest, actual, expected)
        dest.unlink()

    make_dir(dest.parent)
    last_error = "no attempt made"
    for attempt in range(retries + 1):
        if attempt:
            delay = min(backoff * 2 ** (attempt - 1), MAX_BACKOFF_S)
            log.warning("download %s failed (%s); retry %d/%d in %.1fs", url, last_error, attempt, retries, delay)
            time.sleep(delay)
        try:
            _attempt(url, part, timeout, progress)
            break
        except _Retryable as err:
            last_error = str(err)
    else:
        kept = part.stat().st_size if part.is_file() else 0
        if kept:
            where = f"{_fmt_bytes(kept)} kept in {part}; rerun to resume"
        else:  # an empty .part (opened, nothing arrived) would only suggest there is something to resume
            part.unlink(missing_ok=True)
            where = "nothing was written; rerun to retry"
        raise LmacError(f"download of {url} failed after {retries + 1} attempts: {last_error} ({where})")

    actual = sha256_file(part)
    if expected is not None and actual != expected:
        part.unlink(missing_ok=True)
        raise LmacError(f"checksum mismatch for {url} -> {dest}: expected sha256 {expected}, got {actual}")
    if expected is None:
        log.warning("download of %s is not pinned (no sha256 given); its sha256 is %s", url, actual)
    os.replace(part, dest)
    pinned = ", sha256 verified" if expected is not None else ""
    log.info("downloaded %s -> %s (%s%s)", url, dest, _fmt_bytes(dest.stat().st_size), pinned)
    return dest


def _attempt(url: str, part: Path, timeout: float, progress: Callable[[int, int | None], None] | None) -> None:
    """One request: continue ``part`` from its current size; raise ``_Retryable`` on trouble."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and offset:
            # Our .part is not a prefix the server can continue (e.g. the file changed): restart.
            log.warning("server refused to resume %s at byte %d; restarting from 0", url, offset)
            part.unlink(missing_ok=True)
            raise _Retryable("HTTP 416 on resume") from None
        if err.code >= 500 or err.code in (408, 429):
            raise _Retryable(f"HTTP {err.code} {err.reason}") from None
        raise LmacError(f"download of {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        if urlsplit(url).scheme == "file":  # a local file that cannot be read will not appear by waiting
            raise LmacError(f"download of {url} failed: {getattr(err, 'reason', err)}") from None
        raise _Retryable(f"{type(err).__name__}: {getattr(err, 'reason', err)}") from None

    with response:
        status = response.status
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if offset and status == 206:
            start = _content_range_start(response.headers.get("Content-Range", ""))
            if start != offset:
                log.warning("server resumed %s at byte %s instead of %d; restarting from 0", url, start, offset)
                part.unlink(missing_ok=True)
                raise _Retryable("unexpected Content-Range")
            mode, done = "ab", offset
        else:
            if offset:
                log.warning("server ignored the Range request for %s (HTTP %d); restarting from 0", url, status)
            mode, done = "wb", 0
        total = done + length if length is not None else None
        _stream(response, part, mode, done, total, url, progress)


def _content_range_start(value: str) -> int | None:
    # "bytes 100-199/200"
    try:
        unit, rest = value.split(" ", 1)
        return int(rest.split("-", 1)[0]) if unit.strip() == "bytes" else None
    except ValueError:
        return None


def _stream(
    response,
    part: Path,
    mode: str,
    done: int,
    total: int | None,
    url: str,
    progress: Callable[[int, int | None], None] | None,
) -> None:
    started = last_log = time.monotonic()
    first = done
    try:
        with open(part, mode) as fh:
            while True:
                block = response.read(CHUNK)
                if not block:
                    break
                fh.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
                now = time.monotonic()
                if now - last_log >= LOG_EVERY_S:
                    last_log = now
                    _log_progress(url, done, total, (done - first) / max(now - started, 1e-9))
    except (http.client.HTTPException, OSError) as err:  # includes timeouts and resets
        raise _Retryable(f"{type(err).__name__} after {done} bytes: {err}") from None
    # http.client returns b"" (not an exception) when the peer closes early, so check the length.
    if total is not None and done < total:
        raise _Retryable(f"connection closed after {done} of {total} bytes")


def _log_progress(url: str, done: int, total: int | None, rate: float) -> None:
    name = url.rsplit("/", 1)[-1] or url
    if total:
        eta = (total - done) / rate if rate > 0 else float("inf")
        log.info(
            "download %s: %s / %s (%.0f%%), %s/s, ETA %s",
            name,
            _fmt_bytes(done),
            _fmt_bytes(total),
            100 * done / total,
            _fmt_bytes(rate),
            _fmt_eta(eta) if rate > 0 else "?",
        )
    else:
        log.info("download %s: %s, %s/s", name, _fmt_bytes(done), _fmt_bytes(rate))


# --------------------------------------------------------------------------------------------
# archives


def fetch_archive(
    url: str,
    sha256: str | None,
    archive_path: str | os.PathLike,
    extract_to: str | os.PathLike,
    marker: str = "meta/esc50.csv",
    retries: int = 5,
    timeout: float = 60,
    backoff: float = 2.0,
) -> Path:
    """Download an archive (``download_file``) and extract the directory holding ``marker``.

    The directory inside the archive that contains ``marker`` (for ESC-50 the top-level
    ``ESC-50-master/`` or ``ESC-50-<commit>/``) becomes ``extract_to``.  Skips everything when
    ``extract_to/marker`` already exists.  Returns ``Path(extract_to)``.
    """
    check_url(url)
    check_sha256(sha256)  # a bad pin is an error even when nothing is left to download
    extract_to = Path(extract_to)
    if (extract_to / marker).is_file():
        log.info("%s already extracted (found %s)", extract_to, marker)
        return extract_to
    _check_free(extract_to, marker)  # now, not after hours of downloading
    archive = download_file(url, archive_path, sha256, retries=retries, timeout=timeout, backoff=backoff)
    try:
        extract_archive(archive, extract_to, marker)
    except LmacError:
        if sha256 is None:
            # Unverified bytes that do not extract: drop them so a rerun downloads afresh.
            Path(archive).unlink(missing_ok=True)
        raise
    return extract_to


def extract_archive(archive: str | os.PathLike, extract_to: str | os.PathLike, marker: str = "meta/esc50.csv") -> Path:
    """Safely extract ``archive`` (.zip or .tar[.gz|.bz2|.xz]) and move the marker's directory to ``extract_to``."""
    archive, extract_to = Path(archive), Path(extract_to)
    _check_free(extract_to, marker)
    if extract_to.exists():
        extract_to.rmdir()  # an empty leftover directory: safe to take its place
    make_dir(extract_to.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{extract_to.name}.extract-", dir=extract_to.parent))
    try:
        kind = _archive_kind(archive)
        try:
            if kind == "zip":
                _extract_zip(archive, tmp)
            else:
                _extract_tar(archive, tmp)
        except LmacError:
            raise
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as err:
            raise LmacError(f"{archive}: corrupt or unreadable {kind} archive ({type(err).__name__}: {err})") from None
        root = _find_marker_dir(tmp, marker)
        if root is None:
            raise LmacError(f"{archive}: no {marker} inside (not the expected archive?)")
        os.replace(root, extract_to)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("extracted %s -> %s", archive, extract_to)
    return extract_to


def _check_free(extract_to: Path, marker: str) -> None:
    """``extract_to`` must be absent or an empty folder: extraction never overwrites what is there."""
    if extract_to.exists() and not (extract_to.is_dir() and not any(extract_to.iterdir())):
        raise LmacError(f"{extract_to} exists but has no {marker}; remove it and rerun")


def make_dir(path: Path) -> None:
    """``mkdir -p`` whose failure (a file in the way, no permission) is one line naming the path."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LmacError(f"{path}: cannot create this folder ({err.strerror}: {err.filename})") from None


def _archive_kind(archive: Path) -> str:
    name = archive.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(TAR_SUFFIXES):
        return "tar"
    if not archive.is_file():
        raise LmacError(f"{archive}: no such file")
    # unknown suffix: sniff the content
    if zipfile.is_zipfile(archive):
        return "zip"
    if tarfile.is_tarfile(archive):
        return "tar"
    raise LmacError(f"{archive}: neither a zip nor a tar archive")


def _unsafe_member(name: str) -> bool:
    """True for absolute paths (POSIX or Windows style) and any '..' component."""
    if not name:
        return True
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return True
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return ".." in parts


def _extract_zip(archive: Path, tmp: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        bad = [m.filename for m in members if _unsafe_member(m.filename)]
        if bad:
            raise LmacError(f"{archive}: refusing unsafe member path {bad[0]!r} (absolute or '..')")
        for member in members:
            # ZipExtFile checks each member's CRC as it is read, so corruption raises BadZipFile.
            zf.extract(member, tmp)


def _extract_tar(archive: Path, tmp: Path) -> None:
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()
        bad = [m.name for m in members if _unsafe_member(m.name)]
        if bad:
            raise LmacError(f"{archive}: refusing unsafe member path {bad[0]!r} (absolute or '..')")
        try:
            # "data" also refuses links pointing outside, device files and setuid bits.
            tf.extractall(tmp, members=members, filter="data")
        except tarfile.FilterError as err:
            raise LmacError(f"{archive}: refusing unsafe member ({err})") from None


def _find_marker_dir(tmp: Path, marker: str, max_depth: int = 3) -> Path | None:
    """Shallowest directory under ``tmp`` (itself included) that contains ``marker``."""
    level = [tmp]
    for _ in range(max_depth + 1):
        for directory in sorted(level):
            if (directory / marker).is_file():
                return directory
        level = [sub for d in level for sub in d.iterdir() if sub.is_dir() and not sub.is_symlink()]
        if not level:
            break
    return None

"""download_file / fetch_archive against a loopback HTTP server (never the network)."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from esc50_fixture import make_esc50_folder, make_esc50_zip, serve_files, sha256_of, zip_folder  # noqa: E402

from lmac.data import download as dl  # noqa: E402
from lmac.data.download import download_file, fetch_archive  # noqa: E402
from lmac.errors import LmacError  # noqa: E402

FAST = {"backoff": 0.0, "timeout": 10}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # A proxy from the environment must never see (or intercept) loopback requests.
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def payload(tmp_path) -> tuple[Path, bytes, str]:
    served = tmp_path / "served"
    served.mkdir()
    data = os.urandom(300_000) + b"tail"  # several reads, odd length
    (served / "blob.bin").write_bytes(data)
    return served, data, hashlib.sha256(data).hexdigest()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_plain_download_checksum_ok(tmp_path, payload):
    served, data, digest = payload
    dest = tmp_path / "out" / "blob.bin"
    seen = []
    with serve_files(served) as (url, stats):
        got = download_file(f"{url}/blob.bin", dest, digest, progress=lambda d, t: seen.append((d, t)), **FAST)
    assert got == dest
    assert dest.read_bytes() == data
    assert _leftovers(dest.parent) == ["blob.bin"]  # no .part left behind
    assert stats.count == 1 and stats.ranges == []
    assert seen[-1] == (len(data), len(data))


def test_resume_after_truncated_transfer(tmp_path, payload):
    served, data, digest = payload
    dest = tmp_path / "blob.bin"
    with serve_files(served, truncate_first_n=1) as (url, stats):
        download_file(f"{url}/blob.bin", dest, digest, **FAST)
    assert dest.read_bytes() == data
    # the second request continued where the first (cut at half) stopped
    assert stats.ranges == [f"bytes={len(data) // 2}-"]
    assert [s for _, _, s in stats.requests] == [200, 206]


def test_resume_restarts_when_server_ignores_range(tmp_path, payload):
    served, data, digest = payload
    dest = tmp_path / "blob.bin"
    with serve_files(served, truncate_first_n=1, support_range=False) as (url, stats):
        download_file(f"{url}/blob.bin", dest, digest, **FAST)
    assert dest.read_bytes() == data  # not half + whole
    assert len(stats.ranges) == 1 and [s for _, _, s in stats.requests] == [200, 200]


def test_existing_part_file_is_resumed(tmp_path, payload):
    served, data, digest = payload
    dest = tmp_path / "blob.bin"
    Path(str(dest) + ".part").write_bytes(data[:1000])
    with serve_files(served) as (url, stats):
        download_file(f"{url}/blob.bin", dest, digest, **FAST)
    assert dest.read_bytes() == data
    assert stats.ranges == ["bytes=1000-"]


def test_retry_after_503(tmp_path, payload):
    served, data, digest = payload
    dest = tmp_path / "blob.bin"
    with serve_files(served, fail_first_n=2) as (url, stats):
        download_file(f"{url}/blob.bin", dest, digest, retries=3, **FAST)
    assert dest.read_bytes() == data
    assert [s for _, _, s in stats.requests] == [503, 503, 200]


def test_retries_exhausted(tmp_path, payload):
    served, _, digest = payload
    dest = tmp_path / "blob.bin"
    with serve_files(served, fail_first_n=10) as (url, stats):
        with pytest.raises(LmacError, match="failed after 3 attempts.*503"):
            download_file(f"{url}/blob.bin", dest, digest, retries=2, **FAST)
    assert stats.count == 3
    assert not dest.exists()


def test_backoff_is_exponential(tmp_path, payload, monkeypatch):
    served, _, digest = payload
    sleeps = []
    monkeypatch.setattr(dl.time, "sleep", sleeps.append)
    with serve_files(served, fail_first_n=3) as (url, _):
        download_file(f"{url}/blob.bin", tmp_path / "blob.bin", digest, retries=3, backoff=0.5, timeout=10)
    assert sleeps == [0.5, 1.0, 2.0]


def test_wrong_checksum(tmp_path, payload):
    served, _, digest = payload
    dest = tmp_path / "out" / "blob.bin"
    wrong = "0" * 64
    with serve_files(served) as (url, _):
        with pytest.raises(LmacError) as err:
            download_file(f"{url}/blob.bin", dest, wrong, **FAST)
    message = str(err.value)
    assert "\n" not in message and "blob.bin" in message and wrong in message and digest in message
    assert _leftovers(dest.parent) == []  # neither dest nor .part


def test_404_fails_without_retry(tmp_path, payload):
    served, _, digest = payload
    with serve_files(served) as (url, stats):
        with pytest.raises(LmacError, match="404"):
            download_file(f"{url}/missing.bin", tmp_path / "x.bin", digest, retries=5, **FAST)
    assert stats.count == 1
    assert _leftovers(tmp_path) == ["served"]  # no x.bin, no x.bin.part


def test_existing_correct_file_makes_no_request(tmp_path, payload):
    served, data, digest = payload
    dest = tmp_path / "blob.bin"
    dest.write_bytes(data)
    with serve_files(served) as (url, stats):
        assert download_file(f"{url}/blob.bin", dest, digest, **FAST) == dest
    assert stats.count == 0


def test_existing_wrong_file_is_replaced(tmp_path, payload):
    served, data, digest = payload
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"stale")
    with serve_files(served) as (url, stats):
        download_file(f"{url}/blob.bin", dest, digest, **FAST)
    assert dest.read_bytes() == data and stats.count == 1


def test_unpinned_download_warns_with_digest(tmp_path, payload, caplog):
    served, data, digest = payload
    with caplog.at_level(logging.WARNING, logger="lmac.data"):
        with serve_files(served) as (url, _):
            download_file(f"{url}/blob.bin", tmp_path / "blob.bin", None, **FAST)
    assert any("not pinned" in r.getMessage() and digest in r.getMessage() for r in caplog.records)


def test_unreachable_server_is_retried_then_fails(tmp_path):
    with serve_files(tmp_path) as (url, _):
        pass  # server is gone: connection refused
    with pytest.raises(LmacError, match="failed after 2 attempts"):
        download_file(f"{url}/x", tmp_path / "x", None, retries=1, **FAST)


# ---------------------------------------------------------------------------- fetch_archive


def _fetch(tmp_path, url, sha, name="master.zip", **kw):
    return fetch_archive(url, sha, tmp_path / "downloads" / name, tmp_path / "data" / "ESC-50", backoff=0.0, **kw)


def test_fetch_archive_end_to_end(tmp_path):
    zip_path, sha = make_esc50_zip(tmp_path / "build", n_classes=2)
    with serve_files(zip_path.parent) as (url, stats):
        out = _fetch(tmp_path, f"{url}/master.zip", sha)
        assert out == tmp_path / "data" / "ESC-50"
        assert (out / "meta" / "esc50.csv").is_file()
        assert len(list((out / "audio").glob("*.wav"))) == 10
        assert _leftovers(out.parent) == ["ESC-50"]  # temp dir gone, nothing else
        n = stats.count
        _fetch(tmp_path, f"{url}/master.zip", sha)  # already extracted: skipped
        assert stats.count == n


def test_fetch_archive_commit_named_top_dir_and_tar(tmp_path):
    folder = make_esc50_folder(tmp_path / "build", n_classes=1, top="ESC-50-33c8ce9")
    archive = tmp_path / "srv" / "esc.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname=folder.name)
    with serve_files(archive.parent) as (url, _):
        out = _fetch(tmp_path, f"{url}/esc.tar.gz", sha256_of(archive), name="esc.tar.gz")
    assert (out / "meta" / "esc50.csv").is_file() and len(list((out / "audio").iterdir())) == 5


def test_fetch_archive_corrupt_zip(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    (srv / "master.zip").write_bytes(os.urandom(50_000))
    with serve_files(srv) as (url, _):
        with pytest.raises(LmacError, match="master.zip.*corrupt"):
            _fetch(tmp_path, f"{url}/master.zip", sha256_of(srv / "master.zip"))
    assert _leftovers(tmp_path / "data") == []


def test_fetch_archive_truncated_zip(tmp_path):
    zip_path, _ = make_esc50_zip(tmp_path / "build")
    srv = tmp_path / "srv"
    srv.mkdir()
    data = zip_path.read_bytes()
    (srv / "master.zip").write_bytes(data[: len(data) // 2])
    with serve_files(srv) as (url, _):
        with pytest.raises(LmacError, match="master.zip"):
            _fetch(tmp_path, f"{url}/master.zip", sha256_of(srv / "master.zip"))
    assert _leftovers(tmp_path / "data") == []


def test_corrupt_member_data_detected(tmp_path):
    """A zip whose directory is intact but whose compressed data is damaged (CRC/zlib error)."""
    zip_path, _ = make_esc50_zip(tmp_path / "build")
    data = bytearray(zip_path.read_bytes())
    with zipfile.ZipFile(zip_path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(".wav"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 100
    data[start : start + 200] = bytes(200)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(LmacError, match="bad.zip"):
        dl.extract_archive(bad, tmp_path / "data" / "ESC-50")
    assert _leftovers(tmp_path / "data") == []


def test_fetch_archive_zip_slip(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    folder = make_esc50_folder(tmp_path / "build", n_classes=1)
    zip_folder(folder, srv / "master.zip")
    with zipfile.ZipFile(srv / "master.zip", "a") as zf:
        zf.writestr("ESC-50-master/../../evil.txt", "pwned")
    with serve_files(srv) as (url, _):
        with pytest.raises(LmacError, match="master.zip.*unsafe member.*evil.txt"):
            _fetch(tmp_path, f"{url}/master.zip", sha256_of(srv / "master.zip"))
    assert not list(tmp_path.rglob("evil.txt"))
    assert _leftovers(tmp_path / "data") == []


@pytest.mark.parametrize("name", ["/abs/evil.txt", "C:/evil.txt", "a/../../evil.txt"])
def test_unsafe_names_rejected_in_zip_and_tar(tmp_path, name):
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("top/meta/esc50.csv", "filename\n")
        zf.writestr(name, "x")
    with pytest.raises(LmacError, match="unsafe member"):
        dl.extract_archive(z, tmp_path / "out1")
    t = tmp_path / "a.tar.bz2"
    with tarfile.open(t, "w:bz2") as tf:
        for member, body in (("top/meta/esc50.csv", b"filename\n"), (name, b"x")):
            info = tarfile.TarInfo(member)
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    with pytest.raises(LmacError, match="unsafe member"):
        dl.extract_archive(t, tmp_path / "out2")
    assert not list(tmp_path.rglob("evil.txt"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.bz2", "a.zip"]


def test_tar_link_escaping_destination_rejected(tmp_path):
    t = tmp_path / "a.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        body = b"filename\n"
        info = tarfile.TarInfo("top/meta/esc50.csv")
        info.size = len(body)
        tf.addfile(info, io.BytesIO(body))
        link = tarfile.TarInfo("top/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(LmacError, match="unsafe member"):
        dl.extract_archive(t, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_marker_missing(tmp_path):
    folder = make_esc50_folder(tmp_path / "build", n_classes=1)
    (folder / "meta" / "esc50.csv").unlink()
    z = zip_folder(folder, tmp_path / "master.zip")
    with pytest.raises(LmacError, match="master.zip.*no meta/esc50.csv"):
        dl.extract_archive(z, tmp_path / "data" / "ESC-50")
    assert _leftovers(tmp_path / "data") == []


def test_existing_nonempty_destination_without_marker_is_not_clobbered(tmp_path):
    zip_path, _ = make_esc50_zip(tmp_path / "build", n_classes=1)
    dest = tmp_path / "data" / "ESC-50"
    dest.mkdir(parents=True)
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(LmacError, match="exists"):
        dl.extract_archive(zip_path, dest)
    assert (dest / "notes.txt").read_text() == "mine"


# ---------------------------------------------------------------------------- bad input, before any byte


@pytest.mark.parametrize(
    "bad,why",
    [
        ("xyz", "not hexadecimal"),
        ("g" * 64, "not hexadecimal"),
        ("abc123", "6 hexadecimal digits, not 64"),
        ("0" * 65, "65 hexadecimal digits, not 64"),
        ("", "0 hexadecimal digits, not 64"),
        ("sha256:" + "0" * 64, "not hexadecimal"),
    ],
)
def test_malformed_sha256_is_refused_before_any_request(tmp_path, payload, bad, why):
    served, _, _ = payload
    dest = tmp_path / "out" / "blob.bin"
    with serve_files(served) as (url, stats):
        with pytest.raises(LmacError) as err:
            download_file(f"{url}/blob.bin", dest, bad, **FAST)
        with pytest.raises(LmacError, match="not a SHA-256 digest"):
            fetch_archive(f"{url}/blob.bin", bad, dest, tmp_path / "data", backoff=0.0)
    message = str(err.value)
    assert message == f"sha256 {bad!r}: not a SHA-256 digest ({why}; expected 64 hexadecimal digits)"
    assert stats.count == 0 and not (tmp_path / "out").exists() and not (tmp_path / "data").exists()


def test_sha256_check_names_where_the_value_came_from():
    with pytest.raises(LmacError, match=r"^--sha256 'abc': not a SHA-256 digest"):
        dl.check_sha256("abc", "--sha256")
    with pytest.raises(LmacError, match=r"^sha256 123: not a SHA-256 digest \(a int, not a string"):
        dl.check_sha256(123)
    assert dl.check_sha256(" " + "AB" * 32 + "\n") == "ab" * 32
    assert dl.check_sha256(None) is None


def test_upper_case_digest_is_accepted(tmp_path, payload):
    served, data, digest = payload
    with serve_files(served) as (url, _):
        download_file(f"{url}/blob.bin", tmp_path / "blob.bin", digest.upper(), **FAST)
    assert (tmp_path / "blob.bin").read_bytes() == data


@pytest.mark.parametrize("bad", ["notaurl", "ftp://example.org/x.zip", "http:///x.zip", "", None, "/tmp/x.zip"])
def test_url_lmac_cannot_fetch_is_refused_before_anything(tmp_path, bad):
    with pytest.raises(LmacError) as err:
        download_file(bad, tmp_path / "out" / "x.zip", None, **FAST)
    assert str(err.value) == f"url {bad!r}: not a URL lmac downloads from (http://, https:// or file://)"
    assert not (tmp_path / "out").exists()


def test_retries_exhausted_before_any_byte_names_no_part_file(tmp_path, payload):
    served, _, digest = payload
    dest = tmp_path / "blob.bin"
    with serve_files(served, fail_first_n=10) as (url, _), pytest.raises(LmacError) as err:
        download_file(f"{url}/blob.bin", dest, digest, retries=1, **FAST)
    message = str(err.value)
    assert message.endswith("(nothing was written; rerun to retry)") and ".part" not in message
    assert _leftovers(tmp_path) == ["served"]


def test_retries_exhausted_mid_transfer_names_the_part_file_kept(tmp_path, payload):
    served, data, digest = payload
    dest = tmp_path / "blob.bin"
    part = tmp_path / "blob.bin.part"
    with serve_files(served, truncate_first_n=10) as (url, _), pytest.raises(LmacError) as err:
        download_file(f"{url}/blob.bin", dest, digest, retries=1, **FAST)
    # each truncated answer delivers half of what was asked: 1/2, then 1/4 more
    kept = len(data) // 2 + (len(data) - len(data) // 2) // 2
    assert part.stat().st_size == kept
    assert str(err.value).endswith(f"({dl._fmt_bytes(kept)} kept in {part}; rerun to resume)")


def test_part_dropped_by_a_refused_resume_is_not_named(tmp_path, payload):
    served, data, digest = payload
    dest = tmp_path / "blob.bin"
    Path(str(dest) + ".part").write_bytes(data + b"more than the server has")  # -> 416, .part removed
    with serve_files(served) as (url, stats), pytest.raises(LmacError) as err:
        download_file(f"{url}/blob.bin", dest, digest, retries=0, **FAST)
    assert [s for _, _, s in stats.requests] == [416]
    assert str(err.value).endswith("(nothing was written; rerun to retry)")
    assert _leftovers(tmp_path) == ["served"]


def test_missing_local_file_url_fails_at_once(tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(dl.time, "sleep", sleeps.append)
    missing = tmp_path / "missing.zip"
    with pytest.raises(LmacError) as err:
        download_file(missing.as_uri(), tmp_path / "x.zip", None, retries=5)
    assert sleeps == [] and str(missing) in str(err.value) and "after" not in str(err.value)


def test_destination_that_is_a_folder_or_below_a_file(tmp_path, payload):
    served, _, digest = payload
    (tmp_path / "afile").write_text("x")
    with serve_files(served) as (url, stats):
        with pytest.raises(LmacError, match=rf"^{tmp_path}: is a folder; give the path of the archive file"):
            download_file(f"{url}/blob.bin", tmp_path, digest, **FAST)
        with pytest.raises(
            LmacError,
            match=rf"^{tmp_path / 'afile' / 'sub'}: cannot create this folder "
            rf"\(.*: {tmp_path / 'afile'}",
        ):
            download_file(f"{url}/blob.bin", tmp_path / "afile" / "sub" / "x.bin", digest, **FAST)
    assert stats.count == 0


def test_extraction_below_a_file(tmp_path):
    zip_path, _ = make_esc50_zip(tmp_path / "build", n_classes=1)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LmacError, match=r"cannot create this folder"):
        dl.extract_archive(zip_path, tmp_path / "afile" / "ESC-50")


def test_occupied_destination_is_refused_before_downloading(tmp_path, payload):
    served, _, digest = payload
    dest = tmp_path / "data" / "ESC-50"
    dest.mkdir(parents=True)
    (dest / "notes.txt").write_text("mine")
    with serve_files(served) as (url, stats), pytest.raises(LmacError, match="exists but has no meta/esc50.csv"):
        fetch_archive(f"{url}/blob.bin", digest, tmp_path / "blob.zip", dest, backoff=0.0)
    assert stats.count == 0 and (dest / "notes.txt").read_text() == "mine"

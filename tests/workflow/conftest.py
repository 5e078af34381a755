"""The workflow tests: all of them slow (``make test-fast`` leaves them out), and one run of the tiny configuration
that they share.

``tiny_run`` is ``snakemake`` (target ``all``) on tests/workflow/tiny.yaml in a temporary ``--directory``, once per
session, so the repository's own results/, logs/ and benchmarks/ are never touched. Tests only read it; one that
adds to it or changes it works on ``copy_run(tiny_run, tmp_path / ...)``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from slurm_cluster import SlurmCluster, unavailable
from snakemake_runs import TINY, show, snakemake

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("tiny_run")
    proc = snakemake(workdir, "--cores", 2, configfile=TINY, timeout=1500)
    assert proc.returncode == 0, show(proc)
    (workdir / "snakemake.out").write_text(proc.output)
    return workdir


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory) -> SlurmCluster:
    """A real one-node SLURM cluster (tests/slurm_cluster.py) for the session; skipped where it cannot run."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    cluster.start()
    yield cluster
    cluster.stop()

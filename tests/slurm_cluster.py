"""A real one-node SLURM cluster on this machine, for the cluster tests and by hand.

    python tests/slurm_cluster.py start [--dir DIR]    # prints the `export SLURM_CONF=...` to use it
    python tests/slurm_cluster.py status [--dir DIR]
    python tests/slurm_cluster.py stop [--dir DIR]

Everything lives in DIR (default: lmac-slurm in the temporary folder): a generated munge key, slurm.conf and
gres.conf, the daemons' state, spool and logs, and the pids of the daemons this script started. munged,
slurmctld and slurmd run in the foreground of processes started here, on free local ports and their own munge
socket, so they leave the machine's own SLURM or munge (if any) alone, and ``stop`` ends exactly those pids.

The node is this machine: its CPUs and memory as ``slurmd -C`` reads them, plus one GPU resource without a
device (gres.conf ``Name=gpu File=/dev/null``), so ``--gpus=1`` jobs are allocated, queue on the one GPU and
run on the CPU. ``select/cons_tres`` with cores and memory as consumables, one partition ``debug``. No
accounting database (slurmdbd needs MariaDB): ``sacct`` is disabled, so the executor plugin polls with
``squeue`` (``--slurm-status-command squeue``), and MinJobAge=600 keeps finished jobs visible to it.

Needs root (slurmd runs jobs as their submitter) and Debian's ``slurmctld slurmd slurm-client munge``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PARTITION = "debug"
NODE = "lmacnode"
BINARIES = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel")
DEFAULT_DIR = Path(tempfile.gettempdir()) / "lmac-slurm"
# Where SLURM's commands look for slurm.conf when SLURM_CONF is unset: the default file, then a configless slurmd's
# cache. The slurm-jobstep plugin removes SLURM_CONF (with every SLURM_* variable) before its srun inside the job,
# so this cluster's etc/ is linked at the cache's place while it runs.
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
CONF_LINK = Path("/run/slurm/conf")
MARKER = "lmac-test-cluster"  # in etc/: a CONF_LINK to a folder holding it is a cluster of this script


def unavailable() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if not sys.platform.startswith("linux"):
        return "a local SLURM cluster needs Linux"
    if os.geteuid() != 0:
        return "a local SLURM cluster needs root (slurmd runs jobs as their user)"
    missing = [name for name in BINARIES if not shutil.which(name, path=_sbin_path())]
    if missing:
        return (
            f"SLURM or munge not installed (missing {', '.join(missing)}; Debian: slurmctld slurmd slurm-client munge)"
        )
    if SYSTEM_CONF.exists():
        return f"this machine has its own SLURM configuration ({SYSTEM_CONF}), which jobs' srun would use"
    if CONF_LINK.exists() and not (CONF_LINK / MARKER).exists():
        return f"a configless slurmd runs here ({CONF_LINK}), whose configuration jobs' srun would use"
    return None


def _sbin_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def _which(name: str) -> str:
    return shutil.which(name, path=_sbin_path()) or name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_hardware() -> dict[str, int]:
    """CPUs and RealMemory (MB) of this machine as slurmd detects them (``slurmd -C``)."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    found = dict(re.findall(r"(\w+)=(\S+)", out.splitlines()[0]))
    # a little memory left to the OS, or slurmd reports less than configured and the node drains
    return {"CPUs": int(found["CPUs"]), "RealMemory": max(256, int(found["RealMemory"]) - 256)}


class SlurmCluster:
    """munged + slurmctld + slurmd for one local node, configured and kept in ``root``."""

    def __init__(self, root: Path = DEFAULT_DIR):
        self.root = Path(root).resolve()
        self.conf = self.root / "etc" / "slurm.conf"
        self.pids = self.root / "pids"

    @property
    def env(self) -> dict[str, str]:
        """The environment for SLURM's client commands (and the jobs, which inherit it) to use this cluster."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SQUEUE_"))}
        env["SLURM_CONF"] = str(self.conf)
        return env

    def run(self, *argv: str, check: bool = True) -> str:
        """A SLURM client command against this cluster; its stdout."""
        proc = subprocess.run([_which(argv[0]), *argv[1:]], capture_output=True, text=True, env=self.env, timeout=30)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def running(self) -> dict[str, int]:
        """name -> pid of the daemons started here that are still alive."""
        alive = {}
        if self.pids.exists():
            for line in self.pids.read_text().split():
                name, pid = line.split("=")
                if _alive(int(pid)):
                    alive[name] = int(pid)
        return alive

    def write_config(self) -> None:
        for sub in ("etc", "munge", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root / "munge", 0o700)
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True)
        os.chmod(key, 0o600)
        hardware = node_hardware()
        host = socket.gethostname().split(".")[0]
        settings = {
            "ClusterName": "lmac",
            "SlurmctldHost": f"{host}(127.0.0.1)",
            "SlurmctldPort": _free_port(),
            "SlurmdPort": _free_port(),
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "AuthType": "auth/munge",
            "AuthInfo": f"socket={self.root / 'munge' / 'munge.socket'}",
            "CredType": "cred/munge",
            "StateSaveLocation": self.root / "state",
            "SlurmdSpoolDir": self.root / "spool",
            "SlurmctldPidFile": self.root / "state" / "slurmctld.pid",
            "SlurmdPidFile": self.root / "spool" / "slurmd.pid",
            "SlurmctldLogFile": self.root / "log" / "slurmctld.log",
            "SlurmdLogFile": self.root / "log" / "slurmd.log",
            "SlurmctldDebug": "info",
            "SlurmdDebug": "info",
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "MpiDefault": "none",
            "SchedulerType": "sched/backfill",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_Core_Memory",
            "GresTypes": "gpu",
            "AccountingStorageType": "accounting_storage/none",
            "JobAcctGatherType": "jobacct_gather/none",
            "JobCompType": "jobcomp/none",
            "MinJobAge": 600,  # finished jobs stay in squeue's answers for 10 min: the plugin polls with squeue
            "ReturnToService": 2,
            "SlurmdTimeout": 60,
            "InactiveLimit": 0,
            "KillWait": 5,
        }
        lines = [f"{key}={value}" for key, value in settings.items()]
        lines.append(
            f"NodeName={NODE} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={hardware['CPUs']} "
            f"RealMemory={hardware['RealMemory']} Gres=gpu:1 State=UNKNOWN"
        )
        lines.append(f"PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP")
        self.conf.write_text("\n".join(lines) + "\n")
        # a GPU resource without a device: allocated and counted like a GPU, nothing to bind
        (self.conf.parent / "gres.conf").write_text(f"NodeName={NODE} Name=gpu File=/dev/null\n")
        (self.conf.parent / MARKER).write_text(f"written by {Path(__file__).name}\n")

    def link_conf(self) -> None:
        CONF_LINK.parent.mkdir(parents=True, exist_ok=True)
        if CONF_LINK.is_symlink():
            CONF_LINK.unlink()
        CONF_LINK.symlink_to(self.conf.parent)

    def unlink_conf(self) -> None:
        if CONF_LINK.is_symlink() and CONF_LINK.resolve() == self.conf.parent:
            CONF_LINK.unlink()

    def start(self, timeout: float = 60) -> None:
        """Configure and start the daemons, then wait until the node is idle."""
        reason = unavailable()
        if reason:
            raise RuntimeError(reason)
        if self.running():
            raise RuntimeError(f"a cluster already runs from {self.root} (stop it first)")
        self.write_config()
        self.link_conf()
        munge = self.root / "munge"
        daemons = {
            "munged": [
                _which("munged"),
                "--foreground",
                "--force",
                f"--socket={munge / 'munge.socket'}",
                f"--key-file={munge / 'munge.key'}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
            "slurmctld": [_which("slurmctld"), "-D", "-i", "-f", str(self.conf)],
            "slurmd": [_which("slurmd"), "-D", "-N", NODE, "-f", str(self.conf)],
        }
        started = []
        try:
            for name, argv in daemons.items():
                log = open(self.root / "log" / f"{name}.out", "ab")
                proc = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True, cwd=self.root
                )
                started.append(f"{name}={proc.pid}")
                self.pids.write_text("\n".join(started) + "\n")
                if name == "munged":
                    _wait(lambda: (munge / "munge.socket").exists(), 10, "munged did not open its socket", self)
            _wait(self.node_idle, timeout, f"node {NODE} not idle", self)
        except BaseException:
            self.stop()
            raise

    def node_idle(self) -> bool:
        for name in _DAEMONS:
            if name not in self.running():
                raise RuntimeError(f"{name} exited: see {self.root / 'log'}")
        try:
            state = self.run("sinfo", "-h", "-n", NODE, "-o", "%T", check=False).strip()
        except subprocess.TimeoutExpired:
            return False
        return state == "idle"

    def status(self) -> str:
        alive = self.running()
        lines = [f"{name}: {'pid ' + str(alive[name]) if name in alive else 'not running'}" for name in _DAEMONS]
        if {"slurmctld", "munged"} <= alive.keys():
            lines.append(self.run("sinfo", "-N", "-o", "%P %N %T %c %m %G", check=False).rstrip())
            lines.append(self.run("squeue", check=False).rstrip())
        return "\n".join(lines)

    def stop(self, timeout: float = 20) -> None:
        """End the daemons this cluster started (slurmd first, munged last), by their pids."""
        alive = self.running()
        for name in reversed(_DAEMONS):
            if name in alive:
                _end(alive[name], timeout)
        if self.pids.exists():
            self.pids.unlink()
        self.unlink_conf()


_DAEMONS = ("munged", "slurmctld", "slurmd")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of ours counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _end(pid: int, timeout: float) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _wait(ready, timeout: float, what: str, cluster: SlurmCluster) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} after {timeout:.0f} s: see the logs in {cluster.root / 'log'}")
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"cluster folder (default {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    cluster = SlurmCluster(args.dir)
    try:
        if args.action == "start":
            cluster.start()
            print(f"node {NODE} idle in partition {PARTITION}; use it with:\nexport SLURM_CONF={cluster.conf}")
        elif args.action == "stop":
            cluster.stop()
            print("stopped")
        else:
            print(cluster.status())
    except RuntimeError as err:
        print(f"slurm_cluster: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

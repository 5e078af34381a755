"""A fake SLURM for tests: the commands snakemake-executor-plugin-slurm calls, running jobs locally.

``tests/fakeslurm/bin/`` holds one shim per command (sbatch, sacct, squeue, scancel, sinfo,
scontrol, sacctmgr, sshare, srun); each execs this file with the command's name. Put that folder
first on PATH and point ``FAKESLURM_DIR`` at an empty directory; the real plugin then submits,
polls and cancels as on a cluster, and every job runs here, in the background.

What lands in ``FAKESLURM_DIR``:
  sbatch.log     one line per submission: the full sbatch argument line (``shlex.join``)
  srun.log       one line per job step: srun's options
  jobs/<id>.*    per job: ``json`` (what sbatch was asked for), ``state`` (PENDING, RUNNING,
                 COMPLETED, FAILED, TIMEOUT, CANCELLED), ``pid`` (the job's session leader)

``FAKESLURM_TIMEOUT=<comment prefix>:<path>`` plays SLURM's wall clock once: the first job whose
``--comment`` starts with the prefix (the plugin writes ``rule_<rule>_wildcards_...``) is killed
(SIGKILL, whole process tree) as soon as ``<path>`` (relative to the job's working directory)
exists, and reports TIMEOUT. ``FAKESLURM_ACCOUNTS`` (comma-separated, default ``fakeacct``) are
the accounts sacctmgr/sshare know; ``FAKESLURM_PARTITIONS`` (default ``cpu*,gpu``) what sinfo lists
(with ``--Node``: one node each, 64 CPUs, 256000 MB, 4 GPUs).
Not emulated: queueing, resource limits, node environments (CPU binding, cgroups, GPUs).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

# sbatch options that take a value in the next token when not written as --opt=value
SBATCH_VALUED = {
    "-A",
    "--account",
    "-p",
    "--partition",
    "-t",
    "--time",
    "-J",
    "--job-name",
    "-o",
    "--output",
    "-e",
    "--error",
    "-D",
    "--chdir",
    "--comment",
    "--mem",
    "--mem-per-cpu",
    "-C",
    "--constraint",
    "-q",
    "--qos",
    "-c",
    "--cpus-per-task",
    "--cpus-per-gpu",
    "-n",
    "--ntasks",
    "-N",
    "--nodes",
    "-G",
    "--gpus",
    "--gres",
    "-M",
    "--clusters",
    "-x",
    "--exclude",
    "-a",
    "--array",
    "--wrap",
    "--reservation",
    "--mail-type",
    "--export",
    "--ntasks-per-gpu",
    "--ntasks-per-node",
}
SRUN_VALUED = {
    "-n",
    "--ntasks",
    "-c",
    "--cpus-per-task",
    "-N",
    "--nodes",
    "-J",
    "--job-name",
    "--jobid",
    "--mem-per-cpu",
    "--mem",
    "-G",
    "--gpus",
    "--cpu-bind",
}
FINAL = {"COMPLETED", "FAILED", "TIMEOUT", "CANCELLED"}


def state_dir() -> Path:
    root = os.environ.get("FAKESLURM_DIR")
    if not root:
        sys.exit("fakeslurm: set FAKESLURM_DIR to a writable directory")
    path = Path(root)
    (path / "jobs").mkdir(parents=True, exist_ok=True)
    return path


def append_line(path: Path, line: str) -> None:
    with open(path, "a") as fh:  # one write per line: concurrent appends stay whole
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(line + "\n")


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def next_job_id(root: Path) -> int:
    # jobs are submitted from two threads of the plugin at once: count under a lock
    with open(root / "counter.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        counter = root / "counter"
        job_id = int(counter.read_text()) + 1 if counter.exists() else 1001
        counter.write_text(str(job_id))
    return job_id


def job_ids(root: Path) -> list[str]:
    return sorted((p.stem for p in (root / "jobs").glob("*.json")), key=int)


def job_state(root: Path, job_id: str) -> str:
    path = root / "jobs" / f"{job_id}.state"
    return path.read_text().strip() if path.exists() else "PENDING"


def parse_options(argv: list[str], valued: set[str]) -> tuple[dict[str, str], list[str]]:
    """(option -> value, positional arguments); flags without a value map to ''."""
    opts, rest, i = {}, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and "=" in arg:
            key, value = arg.split("=", 1)
            opts[key] = value
        elif arg in valued and i + 1 < len(argv):
            opts[arg] = argv[i + 1]
            i += 1
        elif arg.startswith("-") and len(arg) > 2 and not arg.startswith("--") and arg[:2] in valued:
            opts[arg[:2]] = arg[2:]  # -n1, -A acct written together
        elif arg.startswith("-"):
            opts[arg] = ""
        else:
            rest.append(arg)
        i += 1
    return opts, rest


def option(opts: dict[str, str], *names: str, default: str | None = None) -> str | None:
    return next((opts[n] for n in names if n in opts), default)


# --------------------------------------------------------------------------------------------
# commands


def sbatch(argv: list[str]) -> int:
    root = state_dir()
    opts, rest = parse_options(argv, SBATCH_VALUED)
    if option(opts, "--array", "-a") is not None:
        print("fakeslurm sbatch: job arrays are not emulated", file=sys.stderr)
        return 1
    script = option(opts, "--wrap")
    if script is None:  # --slurm-pass-command-as-script: the script comes on stdin (/dev/stdin)
        script = sys.stdin.read()
    job_id = next_job_id(root)
    append_line(root / "sbatch.log", shlex.join(["sbatch", *argv]))
    workdir = option(opts, "-D", "--chdir", default=os.getcwd())
    output = option(opts, "-o", "--output", default=f"slurm-{job_id}.out").replace("%j", str(job_id))
    job = {
        "id": job_id,
        "argv": argv,
        "name": option(opts, "-J", "--job-name", default="sbatch"),
        "comment": option(opts, "--comment", default=""),
        "workdir": workdir,
        "output": str(Path(workdir, output)),
        "script": script,
        "gpus": option(opts, "-G", "--gpus"),
        "cpus_per_gpu": option(opts, "--cpus-per-gpu"),
        "cpus_per_task": option(opts, "-c", "--cpus-per-task"),
    }
    write_atomic(root / "jobs" / f"{job_id}.json", json.dumps(job))
    write_atomic(root / "jobs" / f"{job_id}.state", "PENDING")
    subprocess.Popen(
        [sys.executable, __file__, "_run", str(job_id)],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(job_id if "--parsable" in opts else f"Submitted batch job {job_id}")
    return 0


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_tree(pid: int) -> None:
    for target in [pid, *descendants(pid)]:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass


def timeout_watch(job: dict, root: Path) -> Path | None:
    """The file whose appearance ends this job with TIMEOUT, if FAKESLURM_TIMEOUT picks it."""
    spec = os.environ.get("FAKESLURM_TIMEOUT", "")
    if ":" not in spec or (root / "timeout.done").exists():
        return None
    prefix, path = spec.split(":", 1)
    if not job["comment"].startswith(prefix):
        return None
    (root / "timeout.done").write_text(str(job["id"]))  # once per FAKESLURM_DIR
    return Path(job["workdir"], path)


def run(job_id: str) -> int:
    """The job itself, in its own session (what slurmd would run on a node)."""
    root = state_dir()
    job = json.loads((root / "jobs" / f"{job_id}.json").read_text())
    env = {
        **os.environ,
        "SLURM_JOB_ID": job_id,
        "SLURM_JOBID": job_id,
        "SLURM_JOB_NAME": job["name"],
        "SLURM_SUBMIT_DIR": job["workdir"],
        "SLURM_CLUSTER_NAME": "fakecluster",
    }
    for var, key in (
        ("SLURM_GPUS", "gpus"),
        ("SLURM_CPUS_PER_GPU", "cpus_per_gpu"),
        ("SLURM_CPUS_PER_TASK", "cpus_per_task"),
    ):
        if job[key] is not None:
            env[var] = str(job[key])
    Path(job["output"]).parent.mkdir(parents=True, exist_ok=True)
    watch = timeout_watch(job, root)
    with open(job["output"], "w") as out:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", job["script"]],
            cwd=job["workdir"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        write_atomic(root / "jobs" / f"{job_id}.pid", str(proc.pid))
        write_atomic(root / "jobs" / f"{job_id}.state", "RUNNING")
        while proc.poll() is None:
            if watch is not None and watch.exists():
                kill_tree(proc.pid)
                proc.wait()
                write_atomic(root / "jobs" / f"{job_id}.state", "TIMEOUT")
                return 0
            time.sleep(0.1)
    if job_state(root, job_id) != "CANCELLED":
        write_atomic(root / "jobs" / f"{job_id}.state", "COMPLETED" if proc.returncode == 0 else "FAILED")
    return 0


def sacct(argv: list[str]) -> int:
    root = state_dir()
    opts, rest = parse_options(
        argv,
        {
            "-j",
            "--jobs",
            "--name",
            "-o",
            "--format",
            "-u",
            "--user",
            "-S",
            "--starttime",
            "-E",
            "--endtime",
            "-M",
            "--clusters",
        },
    )
    fmt = option(opts, "-o", "--format", default="").lower()
    if "account" in fmt:  # the plugin guessing an account from the user's last job
        print(os.environ.get("FAKESLURM_ACCOUNTS", "fakeacct").split(",")[0])
        return 0
    jobs = option(opts, "-j", "--jobs")
    if jobs is not None:  # failure details: `-j <id>.<step> --format=Reason` or `-o nodelist`
        job_id, _, step = jobs.partition(".")
        if "nodelist" in fmt:
            print("fakenode1")
        elif "reason" in fmt and step in ("", "0"):
            reason = {"TIMEOUT": "TimeLimit", "FAILED": "NonZeroExitCode"}.get(job_state(root, job_id), "")
            if reason:
                print(reason)
        return 0
    name = option(opts, "--name")
    for job_id in job_ids(root):
        job = json.loads((root / "jobs" / f"{job_id}.json").read_text())
        if name is None or job["name"] == name:
            print(f"{job_id}|{job_state(root, job_id)}")
    return 0


def squeue(argv: list[str]) -> int:
    root = state_dir()
    opts, _ = parse_options(argv, {"--name", "-n", "--format", "-o", "--states", "-t", "-u"})
    name = option(opts, "--name", "-n")
    for job_id in job_ids(root):
        job = json.loads((root / "jobs" / f"{job_id}.json").read_text())
        if name is None or job["name"] == name:
            print(f"{job_id}|{job_state(root, job_id)}")
    return 0


def scancel(argv: list[str]) -> int:
    root = state_dir()
    for job_id in (a for a in argv if not a.startswith("-")):
        pid_file = root / "jobs" / f"{job_id}.pid"
        if job_state(root, job_id) in FINAL:
            continue
        write_atomic(root / "jobs" / f"{job_id}.state", "CANCELLED")
        if pid_file.exists():
            kill_tree(int(pid_file.read_text()))
    return 0


def accounts(argv: list[str]) -> int:  # sacctmgr / sshare: the accounts of this user
    for account in os.environ.get("FAKESLURM_ACCOUNTS", "fakeacct").split(","):
        print(account)
    return 0


# every partition's one node with `sinfo --Node`: partition, node, CPUs, memory (MB), generic resources
FAKE_NODE = {"%N": "fake-{name}", "%c": "64", "%m": "256000", "%G": "gpu:4"}


def sinfo(argv: list[str]) -> int:
    partitions = os.environ.get("FAKESLURM_PARTITIONS", "cpu*,gpu").split(",")
    if "--Node" not in argv:
        print("PARTITION")
        print("\n".join(partitions))
        return 0
    fmt = next(arg.split("=", 1)[1] for arg in argv if arg.startswith("--format="))
    for partition in partitions:
        line = fmt.replace("%P", partition)
        for field, value in FAKE_NODE.items():
            line = line.replace(field, value.format(name=partition.rstrip("*")))
        print(line)
    return 0


def scontrol(argv: list[str]) -> int:
    if argv[:2] == ["show", "config"]:
        print("MaxArraySize            = 1001")
        print("MinJobAge               = 300 sec")
    return 0


def srun(argv: list[str]) -> int:
    """Drop srun's options, log them, and exec the job step's command in this allocation."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in SRUN_VALUED else 1
    append_line(state_dir() / "srun.log", shlex.join(["srun", *argv[:i]]))
    if i == len(argv):
        print("fakeslurm srun: no command", file=sys.stderr)
        return 1
    os.execvp(argv[i], argv[i:])
    return 1  # not reached


COMMANDS = {
    "sbatch": sbatch,
    "sacct": sacct,
    "squeue": squeue,
    "scancel": scancel,
    "sacctmgr": accounts,
    "sshare": accounts,
    "sinfo": sinfo,
    "scontrol": scontrol,
    "srun": srun,
    "_run": lambda argv: run(argv[0]),
}

if __name__ == "__main__":
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))

"""A real single-node SLURM cluster on localhost for the tests: munged, slurmctld and slurmd from Debian's
``slurm-wlm`` and ``munge`` packages, each started in the foreground on its own socket and ports in a temporary
directory, and stopped (with every job) when the block ends. Skips, with the reason, where they cannot start."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures_tasks.slow import starting

NEEDED = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo")
MUNGE_KEY = Path("/etc/munge/munge.key")


@dataclass
class LocalSlurm:
    env: dict[str, str]  # SLURM_CONF: what the client commands (sbatch, squeue ...) need to find this cluster
    root: Path

    def command(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run(list(args), capture_output=True, text=True, env={**os.environ, **self.env}, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def job_state(self, job: str) -> str:
        """squeue's state of a job or array task ("" when it is no longer queued or running)."""
        return self.command("squeue", "-h", "-j", job, "-o", "%T", check=False).strip()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(self.root.glob("*.log")))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _conf(root: Path, host: str, user: str, cpus: int) -> str:
    return f"""ClusterName=lrsearch-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
CredType=cred/munge
SlurmUser={user}
SlurmdUser={user}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=30
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@contextmanager
def local_slurm(cpus: int = 8) -> Iterator[LocalSlurm]:
    """A running single-node SLURM (``cpus`` CPUs declared, whatever the machine has)."""
    starting("starts a SLURM cluster of its own")
    missing = [name for name in NEEDED if shutil.which(name) is None]
    if missing:
        pytest.skip(f"SLURM is not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge")
    if not os.access(MUNGE_KEY, os.R_OK):
        pytest.skip(f"{MUNGE_KEY} is not readable here (the munge package creates it; the test needs root)")
    # Short path: the munge socket's path must fit in a unix socket address.
    root = Path(tempfile.mkdtemp(prefix="lrs-slurm-"))
    root.chmod(0o711)
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    shutil.copy(MUNGE_KEY, root / "munge.key")
    (root / "munge.key").chmod(0o400)
    host = socket.gethostname().split(".")[0]
    (root / "slurm.conf").write_text(_conf(root, host, getpass.getuser(), cpus))
    env = {"SLURM_CONF": str(root / "slurm.conf")}
    daemons: list[subprocess.Popen[bytes]] = []

    def start(*args: str, log: str) -> None:
        out = open(root / log, "ab")  # noqa: SIM115 - closed with the daemon
        daemons.append(subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT,
                                        env={**os.environ, **env}))

    cluster = LocalSlurm(env=env, root=root)
    try:
        start("munged", "-F", "--force", f"--socket={root}/munge.socket", f"--key-file={root}/munge.key",
              f"--pid-file={root}/munged.pid", f"--seed-file={root}/munged.seed", "--log-file=/dev/null",
              log="munged.log")
        _wait_for(lambda: (root / "munge.socket").exists(), 20)
        start("slurmctld", "-D", "-f", env["SLURM_CONF"], log="slurmctld.out.log")
        start("slurmd", "-D", "-f", env["SLURM_CONF"], "-N", host, log="slurmd.out.log")
        if not _wait_for(lambda: cluster.command("sinfo", "-h", "-o", "%T", check=False).strip() == "idle", 60):
            dead = [d.args[0] for d in daemons if d.poll() is not None]
            pytest.skip(f"the local SLURM did not come up (exited: {', '.join(dead) or 'none'}):\n{cluster.logs()}")
        yield cluster
    finally:
        with suppress(Exception):
            cluster.command("scancel", "--full", "-u", getpass.getuser(), check=False)
            _wait_for(lambda: not cluster.command("squeue", "-h", check=False).strip(), 60)
        for daemon in reversed(daemons):
            daemon.terminate()
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        shutil.rmtree(root, ignore_errors=True)


def _wait_for(check, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False

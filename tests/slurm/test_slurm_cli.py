"""``lrsearch slurm`` without a cluster: its options and sbatch's, the batch script, and the errors that come
before anything is stored or submitted."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from lrsearch.cli import build_parser, main
from lrsearch.cli._slurm import split_arguments
from lrsearch.slurm import ArrayJob, render_script, task_log_pattern
from tests.conftest import run_cli, write_spec
from tests.fixtures_tasks.sleepy import sleepy_spec

PG = "postgresql+psycopg://ml:s3cret-pw@db.example:5432/studies"


def _parse(*argv: str) -> tuple[object, list[str]]:
    args = build_parser().parse_args(["slurm", *argv])
    return args, split_arguments(args)


def test_lrsearch_options_may_come_after_the_study_and_the_rest_goes_to_sbatch() -> None:
    args, sbatch = _parse("s.yaml", "--array", "8", "--time", "4:00:00", "-p", "gpu", "--gpus-per-task=1",
                          "--max-running", "4", "--requeue", "--", "--trials", "x")
    assert (args.spec, args.array, args.max_running) == ("s.yaml", 8, 4)
    assert sbatch == ["--time", "4:00:00", "-p", "gpu", "--gpus-per-task=1", "--requeue", "--trials", "x"]
    assert args.trials is None, "after --, even an option lrsearch knows goes to sbatch"


def test_sbatch_options_are_not_taken_for_abbreviations_of_lrsearch_options() -> None:
    args, sbatch = _parse("--array", "2", "s.yaml", "--trial", "3", "--dev", "x")
    assert args.trials is None and args.devices == "auto"
    assert sbatch == ["--trial", "3", "--dev", "x"]


@pytest.mark.slow
def test_the_dry_run_prints_a_script_that_runs_the_worker_and_keeps_the_password_out(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, sleepy_spec("my study's name", trials=5))
    proc = run_cli("slurm", str(spec), "--array", "3", "--max-running", "2", "--storage", PG, "--devices", "cpu",
                   "--trials-per-device", "2", "--time", "1:00:00", "--dry-run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    script = proc.stdout
    assert "s3cret-pw" not in script and "db.example" not in script
    assert "#SBATCH --array=0-2%2" in script and "#SBATCH --open-mode=append" in script
    assert "#SBATCH --job-name=lrsearch-my-study-s-name" in script
    assert script.rstrip().endswith("# submit with: LRSEARCH_STORAGE=... sbatch --time 1:00:00 SCRIPT")
    (exec_line,) = [line for line in script.splitlines() if line.startswith("exec ")]
    command = shlex.split(exec_line)[1:]
    assert command[1:3] == ["-m", "lrsearch"]
    args = build_parser().parse_args(command[3:])
    assert args.func.__module__ == "lrsearch.cli._worker"
    assert (args.study, args.devices, args.trials_per_device) == (["my study's name"], "cpu", 2)
    assert args.log_dir == str(tmp_path / "lrsearch-logs")
    checked = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["--array", "3", "--storage", "sqlite:///studies.db"], "is a SQLite file"),
    (["--storage", PG], "--array N is required"),
    (["--array", "0", "--storage", PG], "--array must be >= 1, got 0"),
    (["--storage", PG, "--array=0-9"], "not an sbatch range: got '0-9'"),
    (["--array", "2", "--storage", PG, "-a", "0-9"], "not as an sbatch --array range"),
])
def test_bad_options_exit_2_with_the_reason_and_store_nothing(tmp_path: Path, argv: list[str], message: str,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_spec(tmp_path, sleepy_spec("s", trials=5))
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["slurm", str(spec), *argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.yaml"]


@pytest.mark.slow
def test_a_missing_sbatch_is_reported_before_the_study_is_stored(tmp_path: Path, postgres_url: str) -> None:
    spec = write_spec(tmp_path, sleepy_spec("s", trials=5))
    proc = run_cli("slurm", str(spec), "--array", "2", "--storage", postgres_url, cwd=tmp_path,
                   env={"PATH": str(tmp_path)})
    assert proc.returncode == 2
    assert "'sbatch' is not on PATH" in proc.stderr and "--dry-run" in proc.stderr
    from tests.fixtures_tasks.databases import query

    assert query(postgres_url, "SELECT count(*) AS n FROM pg_tables WHERE tablename = 'studies'") == [{"n": 0}]


def test_a_study_name_needs_the_storage_it_is_stored_in(tmp_path: Path) -> None:
    proc = run_cli("slurm", "no-such-study", "--array", "2", cwd=tmp_path)
    assert proc.returncode == 2 and "'no-such-study' is not a study file" in proc.stderr


@pytest.mark.parametrize(("sbatch", "expected"), [
    ([], "/sub/slurm-%A_%a.out"),
    (["--output=logs/%x-%A_%a.out"], "/sub/logs/%x-%A_%a.out"),
    (["-o", "/scratch/%A.%a.log"], "/scratch/%A.%a.log"),
    (["-ologs/t.out"], "/sub/logs/t.out"),
    (["--chdir", "/work", "--time", "1:00"], "/work/slurm-%A_%a.out"),
])
def test_the_task_output_is_where_sbatch_puts_it(sbatch: list[str], expected: str) -> None:
    assert task_log_pattern(sbatch, Path("/sub")) == expected


def test_a_requeued_task_keeps_its_earlier_output_and_the_worker_is_the_batch_step() -> None:
    script = render_script(ArrayJob(study="s", tasks=1, python="/opt/venv/bin/python"))
    assert "#SBATCH --array=0-0" in script
    assert "\nexec /opt/venv/bin/python -m lrsearch worker --study s --devices auto\n" in script


def test_the_worker_name_records_the_slurm_array_task(monkeypatch: pytest.MonkeyPatch) -> None:
    from lrsearch.runner._trial import worker_name

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    assert "slurm" not in worker_name()
    monkeypatch.setenv("SLURM_JOB_ID", "812")
    assert worker_name().endswith(" slurm 812")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "800")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "12")
    assert worker_name().endswith(" slurm 800_12")

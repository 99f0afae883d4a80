"""The command line as people meet it: instant help, one option vocabulary, each command's own usage, completion."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lrsearch.cli import build_parser, command_parsers, main
from lrsearch.cli._completion import script
from lrsearch.cli._options import OPTIONS, TAG
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "optuna", "pandas", "sqlalchemy", "pydantic", "numpy", "plotly", "sklearn")
COMMANDS = command_parsers(build_parser())


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_help_of_every_command_imports_nothing_heavy() -> None:
    code = ("import sys\nfrom lrsearch.cli import main, build_parser, command_parsers\n"
            "codes = [main(['--help']), main(['--version'])]\n"
            "codes += [main([name, '--help']) for name in command_parsers(build_parser())]\n"
            f"print(codes, sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    proc = _python("-c", code)
    assert proc.returncode == 0, proc.stderr
    codes, loaded = proc.stdout.strip().splitlines()[-1].split("] ")
    assert set(json.loads(codes + "]")) == {0}
    assert loaded == "[]", f"--help imported {loaded}"


def test_importtime_of_help_lists_no_torch() -> None:
    """``python -X importtime``: every module the interpreter imported for ``lrsearch --help``, with its cost."""
    proc = _python("-X", "importtime", "-m", "lrsearch", "--help")
    assert proc.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "lrsearch.cli" in imported
    assert not [m for m in imported if m.split(".")[0] in HEAVY]


@pytest.mark.slow
def test_import_lrsearch_is_lazy_but_complete() -> None:
    proc = _python("-c", "import sys, lrsearch; a = 'torch' in sys.modules; "
                         "from lrsearch import TrialContext, load_spec, run_study; print(a, 'torch' in sys.modules)")
    assert proc.stdout.split() == ["False", "True"], proc.stderr


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_comes_from_the_one_table(command: str) -> None:
    for action in _options(COMMANDS[command]):
        key = getattr(action, TAG, None)
        assert key is not None, f"lrsearch {command} {action.option_strings}: not from lrsearch.cli._options.OPTIONS"
        option = OPTIONS[key]
        assert action.dest == option.dest
        assert tuple(action.option_strings) in (option.flags, option.aliases)


def test_one_flag_one_meaning_across_commands() -> None:
    meaning: dict[str, str] = {}
    for command, parser in COMMANDS.items():
        for action in _options(parser):
            for flag in action.option_strings:
                assert meaning.setdefault(flag, action.dest) == action.dest, f"{flag} differs in lrsearch {command}"


READS_A_STUDY = ["validate", "space", "export", "best", "replay", "confirm", "dashboard", "report", "lr-find",
                 "compare", "worker", "run"]
TRAINS = ["run", "worker", "replay", "confirm", "lr-find"]


def _flags(command: str) -> set[str]:
    return {f for a in _options(COMMANDS[command]) if a.help != argparse.SUPPRESS for f in a.option_strings}


@pytest.mark.parametrize(("commands", "flags"), [
    (READS_A_STUDY, {"--storage"}),
    ([c for c in READS_A_STUDY if c != "run"], {"--study"}),
    (TRAINS, {"--device"}),
    (["space", "validate", "best", "compare"], {"--json"}),
    (["run", "worker", "confirm"], {"-q", "--quiet"}),
])
def test_shared_vocabulary(commands: list[str], flags: set[str]) -> None:
    for command in commands:
        assert flags <= _flags(command), f"lrsearch {command} lacks {flags - _flags(command)}"


def test_old_spellings_are_accepted_but_not_shown() -> None:
    parser = build_parser()
    args = parser.parse_args(["run", "s.yaml", "--devices", "cpu", "--timeout", "1h30m"])
    assert (args.device, args.timeout) == ("cpu", 5400.0)
    args = parser.parse_args(["lr-find", "s.yaml", "--write", "n.yaml", "--out", "d"])
    assert (args.output, args.results_dir) == ("n.yaml", "d")
    for command in COMMANDS:
        shown = COMMANDS[command].format_help()
        assert "--devices" not in shown and "--write" not in shown and "--out " not in shown


@pytest.mark.parametrize(("argv", "usage", "message"), [
    (["run", "s.yaml", "--bogus"], "usage: lrsearch run", "unrecognized arguments: --bogus"),
    (["best", "x.yaml", "--trial", "three"], "usage: lrsearch best", "argument --trial: invalid int value"),
    (["worker", "--timeout", "1h30x"], "usage: lrsearch worker", "must be a duration like"),
    (["lr-find", "x.yaml", "--mode", "both"], "usage: lrsearch lr-find", "invalid choice: 'both'"),
    (["frobnicate"], "usage: lrsearch [-h]", "invalid choice: 'frobnicate'"),
])
def test_a_usage_error_shows_that_commands_usage(argv: list[str], usage: str, message: str) -> None:
    proc = run_cli(*argv)
    assert proc.returncode == 2
    assert proc.stderr.startswith(usage) and message in proc.stderr and "Traceback" not in proc.stderr


def test_main_returns_the_exit_code_of_a_usage_error(capsys) -> None:
    assert main(["space", "--no-such-flag"]) == 2
    assert "usage: lrsearch space" in capsys.readouterr().err


@pytest.mark.slow
def test_space_and_validate_json(tmp_path: Path) -> None:
    study = str(REPO / "studies" / "quickstart.yaml")
    proc = run_cli("space", study, "--json", check=True)
    dims = json.loads(proc.stdout)
    assert dims[0]["name"] == "opt.name" and dims[0]["optuna"]["name"] == "CategoricalDistribution"
    assert {d["name"]: d["condition"] for d in dims}["head.momentum"] == "opt.name == sgd_schedulefree"
    summary = json.loads(run_cli("validate", study, "--json", check=True).stdout)
    assert summary["valid"] and summary["study"] == "quickstart" and summary["groups"] == ["head", "backbone"]
    assert summary["dimensions"] == [d["name"] for d in dims]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("words", "expected"), [
    (["lrsearch", "ru"], ["run"]),
    (["lrsearch", "lr-find", "--mo"], ["--mode"]),
    (["lrsearch", "lr-find", "--mode", ""], ["joint", "per-group"]),
    (["lrsearch", "run", "--dev"], ["--device"]),  # the hidden --devices is not offered
    (["lrsearch", "completion", ""], ["bash", "fish", "zsh"]),
])
def test_bash_completion(tmp_path: Path, words: list[str], expected: list[str]) -> None:
    (tmp_path / "lrsearch.bash").write_text(script(build_parser(), "bash"))
    array = " ".join(f"'{w}'" for w in words)
    probe = (f"source {tmp_path / 'lrsearch.bash'}; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; "
             "_lrsearch; printf '%s\\n' \"${COMPREPLY[@]}\"")
    proc = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert sorted(proc.stdout.split()) == expected, proc.stderr


def test_completion_scripts_come_from_the_parser() -> None:
    proc = run_cli("completion", "fish", check=True)
    assert "-a lr-find" in proc.stdout and "-l trials-per-device" in proc.stdout
    assert "bashcompinit" in run_cli("completion", "zsh", check=True).stdout


@pytest.mark.slow
def test_lrsearch_imports_without_fcntl() -> None:
    """Windows has no fcntl: export, report and the dashboard must import there (the budget lock uses filelock)."""
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "import lrsearch.runner, lrsearch.results, lrsearch.dashboard, lrsearch.cli._results\n"
            "from lrsearch.runner._study import StudyHandle; print('ok')")
    proc = _python("-c", code)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr

"""The public API and the command line stay documented and in step with the code."""

import subprocess
import sys

import click
import pytest

import reviewops
from reviewops.cli import cli, main


def test_all_lists_exactly_the_public_names():
    public = sorted(
        name for name, value in vars(reviewops).items()
        if not name.startswith("_") and not isinstance(value, type(sys))
    )
    assert sorted(set(reviewops.__all__) - {"__version__"}) == public


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_bilingual_help(name):
    command = cli.commands[name]
    assert command.help, f"command {name} has no help"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in command.help), f"{name} help has no Chinese"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and param.name != "help":
            assert param.help, f"option {param.opts} of {name} has no help"


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "reviewops", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "import" in out.stdout and "demo" in out.stdout


def test_unknown_option_is_a_usage_error_without_traceback(capsys):
    code = main(["import", "--no-such-option", "x.csv"])
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.out + captured.err


def test_commands_are_documented_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"reviewops {name}" in readme, f"README does not mention `reviewops {name}`"

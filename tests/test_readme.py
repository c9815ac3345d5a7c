"""The README's commands run as written.

Every line of the README's fenced code blocks that starts with `snakemake -n` or `python -m robust_unlearning` is
run, with its cwd at the repository root, by this checkout's venv:

- In a block whose commands carry a `$ ` prompt, only the prompted lines are commands, and the lines after one, up to
  the next prompt, are its output. A trailing `\\` joins the next line; `#` starts a comment.
- `<paper>` stands for a paper config's name and is replaced by `p1_rna`; any other `<...>` placeholder fails: a
  README command must run as shown.
- `snakemake -n` runs this checkout's Snakefile in a temporary directory (`helpers.snakemake_command`), so that no
  dry run leaves anything in the checkout, and gets `--configfile tests/configs/micro.yaml` appended when it names no
  configfile (a command that names one, a paper config, runs as written).
- `python -m robust_unlearning.<module>` runs with the venv's python. While its module is not in this checkout, that
  one command is skipped, naming the module.
- A command shown with output must print each of its output lines; any other command must exit 0.
"""

import importlib.util
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass

import pytest

from .conftest import ROOT
from .helpers import snakemake_command

PREFIXES = ("snakemake -n", "python -m robust_unlearning")
PAPER = "p1_rna"
MICRO = ROOT / "tests" / "configs" / "micro.yaml"


@dataclass(frozen=True)
class Command:
    line: str
    output: tuple[str, ...] = ()


def commands(markdown: str) -> list[Command]:
    """The runnable commands of `markdown`'s fenced code blocks, each with the output the block shows after it."""
    found = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL):
        lines = []
        for line in block.splitlines():
            if lines and lines[-1].endswith("\\"):
                lines[-1] = f"{lines[-1][:-1].rstrip()} {line.strip()}"
            else:
                lines.append(line)
        prompted = any(line.startswith("$ ") for line in lines)
        for i, line in enumerate(lines):
            if prompted and not line.startswith("$ "):
                continue
            line = line.removeprefix("$ ")
            if not line.startswith(PREFIXES):
                continue
            output = []
            for following in lines[i + 1 :] if prompted else ():
                if following.startswith("$ "):
                    break
                output.append(following.strip())
            found.append(Command(line, tuple(filter(None, output))))
    return found


def test_commands_are_read_from_fenced_blocks():
    markdown = """Not in a block: snakemake -n --cores 1

```
snakemake --cores all                     # runs: not a dry run
snakemake -n --configfile config/paper/<paper>.yaml \\
    --cores 2   # a comment
python -m robust_unlearning.memory
```

```
$ snakemake -n --config world='{"seed": 1}'
$ python -m robust_unlearning.cost
error:
  a message

$ snakemake --cores 1
snakemake -n a line of output
```
"""
    assert commands(markdown) == [
        Command("snakemake -n --configfile config/paper/<paper>.yaml --cores 2   # a comment"),
        Command("python -m robust_unlearning.memory"),
        Command("snakemake -n --config world='{\"seed\": 1}'"),
        Command("python -m robust_unlearning.cost", ("error:", "a message")),
    ]


README_COMMANDS = commands((ROOT / "README.md").read_text())


def test_readme_has_both_kinds_of_command():
    assert {command.line.startswith(PREFIXES[0]) for command in README_COMMANDS} == {True, False}


@pytest.mark.parametrize(
    "command", README_COMMANDS, ids=lambda command: " ".join(shlex.split(command.line, comments=True))
)
def test_readme_command_runs(command, venv_bin, tmp_path):
    line = command.line.replace("<paper>", PAPER)
    assert not re.search(r"<[^<>]+>", line), f"a placeholder this test cannot fill: {line}"
    args = shlex.split(line, comments=True)
    if args[0] == "python":
        module = args[2]
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not in this checkout yet")
        args = [sys.executable, *args[1:]]
    else:
        args = snakemake_command(venv_bin, tmp_path, *args[1:])
        if "--configfile" not in args:
            args += ["--configfile", str(MICRO)]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    printed = result.stdout + result.stderr
    if command.output:
        for expected in command.output:
            assert expected in printed, printed[-3000:]
    else:
        assert result.returncode == 0, printed[-3000:]

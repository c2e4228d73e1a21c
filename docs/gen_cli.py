"""Generate docs/cli.md from the Typer app, so the option reference cannot drift from the code.

    python docs/gen_cli.py          # rewrite docs/cli.md
    python docs/gen_cli.py --check  # exit 1 if docs/cli.md is out of date (run by the test suite)
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer.main

from loco_cli.cli import app

OUT = Path(__file__).resolve().parent / "cli.md"


def render() -> str:
    group = typer.main.get_command(app)
    lines = ["# Command reference", "",
             "Generated from the code by `python docs/gen_cli.py`; every option with its default.", "",
             "## Global options", "", "Given before the command: `loco --threads 1 train ...`.", "",
             "| option | default | meaning |", "|---|---|---|"]
    for p in group.params:
        if p.name in ("help", "version"):
            continue
        default = "" if p.default is None else repr(p.default)
        lines.append(f"| `{' / '.join(p.opts)}` | {default} | {(getattr(p, 'help', None) or '').replace('|', chr(92) + '|')} |")
    lines += ["", "## Exit codes", "",
              "| code | meaning |", "|---|---|",
              "| 0 | done |",
              "| 1 | a batch command (`prepare`, `detect`, `eval`) skipped some inputs; each is named on its own "
              "line and every other input was processed (`prepare --skip-bad` makes this 0) |",
              "| 2 | a usage or fatal error: one line `error: <file or option>: <what is wrong>; <the fix>` on "
              "stderr, no traceback (`loco --verbose` shows it), no output half-written |",
              "",
              "Every output is written to a hidden temporary file beside it and renamed when complete, so a "
              "killed or failing command leaves each output whole or absent; a later command that writes into "
              "the same folder removes the temporary files of the killed one. `--force` only ever replaces a "
              "folder that loco made. The probes that check all of this are `tests/test_bad_inputs.py` "
              "([figures](benchmarks.md#reliability)).", ""]
    for name, cmd in group.commands.items():
        lines += [f"## `loco {name}`", "", (cmd.help or "").strip().split("\n\n")[0], "", "```",
                  f"loco {name} " + " ".join(p.name.upper() for p in cmd.params if p.param_type_name == "argument")
                  + " [OPTIONS]",
                  "```", "", "| argument / option | default | meaning |", "|---|---|---|"]
        for p in cmd.params:
            if p.name == "help":
                continue
            flag = p.name.upper() if p.param_type_name == "argument" else " / ".join(p.opts)
            if getattr(p, "is_flag", False) and p.secondary_opts:
                flag += " / " + " / ".join(p.secondary_opts)
            default = "required" if p.required else ("" if p.default is None else repr(p.default))
            help_text = (getattr(p, "help", None) or "").replace("|", "\\|")
            lines.append(f"| `{flag}` | {default} | {help_text} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    text = render()
    if "--check" in sys.argv:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python docs/gen_cli.py")
            sys.exit(1)
        return
    OUT.write_text(text)


if __name__ == "__main__":
    main()

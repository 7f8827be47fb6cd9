"""The `camviewer` command line: headless jobs over camviewer.core.

Each sub-command lives in ``camviewer/commands/<name>.py`` with ``add_arguments(parser)``
and ``run(args) -> int``; modules are imported only when their command runs, so
``camviewer --help`` and ``--version`` never import torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from camviewer import __version__

# name -> one-line help; the module camviewer.commands.<name> implements it.
COMMANDS = {
    "info": "print a checkpoint's model card as JSON",
    "explain": "compute CAMs for images or folders and write maps, overlays and predictions",
    "synth": "write a synthetic two-class dataset (cells or chest x-rays) with lesion masks and boxes",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camviewer",
        description="Train image classifiers and see where they look. "
        "Without a command, opens the viewer on the given files or folders.",
    )
    parser.add_argument("--version", action="version", version=f"camviewer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        _command_module(name).add_arguments(command_parser)
    return parser


def _command_module(name: str):
    return importlib.import_module(f"camviewer.commands.{name.replace('-', '_')}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2  # usage error, as argparse uses
    return _command_module(args.command).run(args)

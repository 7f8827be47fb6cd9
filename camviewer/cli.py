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
    "train": "train or fine-tune a classifier on class folders or a CSV, with early stopping and resume",
    "evaluate": "evaluate a checkpoint on a dataset or split: metrics.json, ROC, confusion matrix, predictions",
    "localize": "score maps against ground-truth masks or boxes: pointing game, IoU, Dice, energy inside",
    "faithfulness": "deletion/insertion curves, average drop, and the weight-randomization sanity check",
    "refine": "build an enhanced copy of a training set for the CAM-guided refinement cycle",
    "report": "one self-contained HTML report of a run or an evaluation: metrics, curves, example maps, trust",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camviewer",
        description="Train image classifiers and see where they look.",
        usage="camviewer [PATH ...] | camviewer COMMAND [options] | camviewer --install-desktop-entry",
        epilog="Without a command, camviewer opens the viewer on the given images or folders (or on the "
        "built-in demo). Desktop integration: --install-desktop-entry / --uninstall-desktop-entry add or "
        "remove the menu entry and icons for the current user. --self-test opens the window offscreen, "
        "explains a sample image with the demo model and exits (checks an installation or a bundle). "
        "Run `camviewer COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"camviewer {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text, prog=f"camviewer {name}")
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
    from camviewer.commands import _scale
    from camviewer.core.distributed.world import launched_by_torchrun

    run = _command_module(args.command).run
    if launched_by_torchrun():  # one of torchrun's processes (a --nproc left in the arguments is then ignored)
        return _scale.as_rank(args.command, run, args)
    if getattr(args, "nproc", None):
        return _scale.launch(argv, args.nproc, getattr(args, "events", None))
    return run(args)

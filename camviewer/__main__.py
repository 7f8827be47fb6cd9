"""`camviewer` / `python -m camviewer`: a sub-command runs headless, anything else opens the viewer."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    from camviewer import cli

    if argv and (argv[0] in cli.COMMANDS or argv[0] in ("-h", "--help", "--version")):
        return cli.main(argv)
    from camviewer.gui.launch import launch

    return launch(argv)


if __name__ == "__main__":
    sys.exit(main())

"""`camviewer info CKPT`: the model card as JSON on stdout."""

from __future__ import annotations

import argparse
import json

from camviewer.commands._common import EXIT_OK, EXIT_USAGE, add_model_arguments, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", nargs="?", metavar="CKPT", help="checkpoint file")
    parser.add_argument("--list-archs", action="store_true", help="list the architectures camviewer can build")
    parser.add_argument("--layers", action="store_true", help="also list the layers CAMs can be read from")
    add_model_arguments(parser, flag="")


def run(args: argparse.Namespace) -> int:
    from camviewer.core.errors import CamviewerError

    if args.list_archs:
        from camviewer.core.model.registry import available_architectures

        print("\n".join(available_architectures()))
        return EXIT_OK
    if not args.checkpoint:
        return fail("info needs a checkpoint file (or --list-archs)", EXIT_USAGE)
    from camviewer.commands._common import load_model_from_args

    args.model = args.checkpoint
    try:
        model = load_model_from_args(args)
        card = model.card.to_dict()
        if args.layers:
            from camviewer.core.cam.layers import auto_layer, candidate_layers

            card["layers"] = [{"name": layer.name, "shape": list(layer.shape)} for layer in candidate_layers(model)]
            card["auto_layer"] = auto_layer(model)
    except CamviewerError as error:
        return fail(error)
    print(json.dumps(card, indent=2))
    return EXIT_OK

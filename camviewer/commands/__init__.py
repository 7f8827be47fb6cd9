"""One module per `camviewer` sub-command; each has add_arguments(parser) and run(args) -> int.

Modules import the engine inside ``run`` so that parsing arguments never imports torch.
"""

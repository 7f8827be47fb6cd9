"""The part of a network after a layer, as a function of that layer's output.

AblationCAM needs one forward per channel of the layer, and only the layers after it change: running
the whole network each time (as pytorch-grad-cam does) repeats everything before the layer for nothing.
``torch.fx`` traces the model with the target layer kept whole; the tail is every operation that
depends on the layer's output. Values from before the layer that the tail still reads (a skip
connection around the layer) come from the same trace, computed once per batch and repeated.

A model fx cannot trace (Python control flow on tensor values) has no tail, and neither has one whose
tail does not give back the model's own scores (checked on every use): the caller then runs the whole
forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx, nn


class _KeepLayerWhole(fx.Tracer):
    def __init__(self, layer: str) -> None:
        super().__init__()
        self.layer = layer

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        return qualified_name == self.layer or super().is_leaf_module(module, qualified_name)


@dataclass
class Tail:
    """``scores(activation, outside)``: the model's outputs from the layer's output on.

    ``outside(batch)``: what else the tail reads from before the layer, for the whole batch (an empty tuple
    when the layer's output is all it needs).
    """

    after: fx.GraphModule
    before: fx.GraphModule | None

    def outside(self, batch: torch.Tensor) -> tuple:
        return tuple(self.before(batch)) if self.before is not None else ()

    def scores(self, activation: torch.Tensor, outside: tuple) -> torch.Tensor:
        return self.after(activation, *outside)


def build_tail(module: nn.Module, layer: str) -> Tail | None:
    """The tail of ``module`` after ``layer`` (a qualified module name), or None when it cannot be isolated."""
    try:
        graph = _KeepLayerWhole(layer).trace(module)
    except Exception:  # any tracing failure (data-dependent control flow, unsupported ops) means "no tail"
        return None
    cuts = [node for node in graph.nodes if node.op == "call_module" and node.target == layer]
    output = next(node for node in graph.nodes if node.op == "output")
    if len(cuts) != 1:
        return None
    after = {cuts[0]}
    for node in graph.nodes:  # nodes are in execution order: one sweep finds every dependant
        if any(arg in after for arg in node.all_input_nodes):
            after.add(node)
    if output not in after:
        return None
    outside = list(
        dict.fromkeys(
            arg
            for node in graph.nodes
            if node in after and node is not cuts[0]
            for arg in node.all_input_nodes
            if arg not in after and arg.op != "get_attr"
        )
    )
    tail = fx.Graph()
    env = {cuts[0]: tail.placeholder("activation")}
    env.update({node: tail.placeholder(f"outside_{i}") for i, node in enumerate(outside)})

    def lookup(node: fx.Node) -> fx.Node:
        if node not in env:  # a parameter or buffer read by the tail
            env[node] = tail.node_copy(node, lookup)
        return env[node]

    for node in graph.nodes:
        if node in after and node not in env:
            env[node] = tail.node_copy(node, lookup)
    return Tail(fx.GraphModule(module, tail), _before(module, graph, after, outside) if outside else None)


def _before(module: nn.Module, graph: fx.Graph, after: set, outside: list) -> fx.GraphModule:
    """The part of the trace that computes the ``outside`` values from the input."""
    head = fx.Graph()
    kept: dict[fx.Node, fx.Node] = {}
    for node in graph.nodes:
        if node not in after and node.op != "output":
            kept[node] = head.node_copy(node, kept.__getitem__)
    head.output(tuple(kept[node] for node in outside))
    before = fx.GraphModule(module, head)
    before.graph.eliminate_dead_code()  # the layer itself and what only it reads
    before.recompile()
    return before


def repeat_outside(outside: tuple, image: int, images: int, copies: int) -> tuple:
    """Image ``image``'s share of each outside value, repeated ``copies`` times along the batch."""
    return tuple(
        value[image : image + 1].expand(copies, *value.shape[1:])
        if isinstance(value, torch.Tensor) and value.ndim and value.shape[0] == images
        else value
        for value in outside
    )


def tail_reproduces(tail: Tail, activation: torch.Tensor, outside: tuple, logits: torch.Tensor) -> bool:
    """Does the tail give back the model's own scores (first image, twice, as the ablation batches will)?"""
    try:
        scores = tail.scores(
            activation[:1].expand(2, *activation.shape[1:]).clone(),
            repeat_outside(outside, 0, activation.shape[0], 2),
        )
    except Exception:  # an op that cannot take the repeated values: run the whole forward instead
        return False
    if not isinstance(scores, torch.Tensor) or scores.shape != (2, *logits.shape[1:]):
        return False
    expected = logits[:1].expand_as(scores)
    return bool(torch.allclose(scores, expected, rtol=1e-4, atol=1e-5 * (1 + expected.abs().max().item())))

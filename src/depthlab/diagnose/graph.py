"""Longest paths through the autograd graph, counting weight layers (the depth of Non-deep Networks, arXiv
2110.07641).

A *weight layer* is an op that consumes a parameter of rank >= 2: Linear, Conv*, ConvTranspose*, Bilinear,
Embedding, attention and RNN weight matrices. Norm layers (BatchNorm, LayerNorm, GroupNorm), PReLU slopes and
biases have rank-1 parameters and so do not count. An op whose weight is built from several parameters inside
forward (a re-parameterizable block summing branch kernels) is still one op and counts once. An addition never
counts: a learned table added to the signal (a transformer's position embeddings) shifts it, it does not
transform it. Integer input (token ids) carries no gradient, so the measured path starts at the embedding
lookup that reads it (the lookup whose saved indices share the input's storage); in the walk without an input
(``watch``'s) every lookup counts as reading the input, a table of positions too.

Why the autograd graph and not torch.fx: it records the ops that actually ran, so data-dependent control flow,
any third-party module and checkpointed blocks all work; parallel branches are explicit joins in the graph.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch


@dataclass
class GraphDepth:
    """Longest-path numbers of one forward pass."""

    depth: int  # weight layers on the longest input -> output path
    sequential_ops: int  # ops (autograd nodes) on the longest input -> output path
    weight_ops: int  # weight layers executed in total (all paths)
    param_depth: dict[int, int] = field(default_factory=dict)  # id(weight param) -> its index along the depth


def _is_addition(node) -> bool:
    return type(node).__name__.startswith("AddBackward")


def _is_lookup(node) -> bool:
    return type(node).__name__.startswith("EmbeddingBackward")


def _is_weight_leaf(node) -> bool:
    variable = getattr(node, "variable", None)
    return isinstance(variable, torch.nn.Parameter) and variable.dim() >= 2


class _Walker:
    """Memoized post-order walk from the output's grad_fn toward the inputs (edges point input-ward)."""

    def __init__(self, source, readers: set | None):
        self.source = source  # the input leaf's AccumulateGrad node, or None: then every path counts
        self.readers = readers  # lookups reading integer input; None (no input given): every lookup
        self.memo: dict[object, tuple[bool, int, int]] = {}
        self.weight_params: dict[object, list[torch.nn.Parameter]] = {}

    def params_of(self, node) -> list[torch.nn.Parameter]:
        """Rank >= 2 parameters reached from ``node`` without passing the input (a weight's own chain)."""
        if node in self.weight_params:
            return self.weight_params[node]
        found = [node.variable] if _is_weight_leaf(node) else []
        for child, _ in getattr(node, "next_functions", ()):
            if child is not None and child is not self.source and not self.visit(child)[0]:
                found += self.params_of(child)
        self.weight_params[node] = found
        return found

    def visit(self, node) -> tuple[bool, int, int]:
        """(reaches the input, weight layers on the longest path to it, ops on that path)."""
        if node in self.memo:
            return self.memo[node]
        if node is self.source:
            self.memo[node] = (True, 0, 0)
            return self.memo[node]
        reads = node in self.readers if self.readers is not None else _is_lookup(node)
        reach, depth, ops = self.source is None and reads, 0, 0
        for child, _ in node.next_functions:
            if child is None:  # an input that needs no grad: the data itself when no input leaf is given
                reach = reach or self.source is None
                continue
            child_reach, child_depth, child_ops = self.visit(child)
            if child_reach:
                reach, depth, ops = True, max(depth, child_depth), max(ops, child_ops)
        own = 1 if reach and self.params_of(node) and not _is_addition(node) else 0
        self.memo[node] = (reach, depth + own, ops + (1 if reach else 0))
        return self.memo[node]


def graph_depth(output: torch.Tensor, input_leaf: torch.Tensor | None = None) -> GraphDepth:
    """Longest-path weight-layer count from ``input_leaf`` (a tensor with requires_grad, or integer ids) to
    ``output``.

    Without ``input_leaf`` (a training batch needs no grad), or with integer ids, any edge to a tensor
    without grad counts as the input (and so does a lookup, see the module docstring); exact for weight
    layers in ordinary nets, and what ``watch`` uses to place each layer along the depth.
    """
    tracked = input_leaf is not None and input_leaf.requires_grad
    source = input_leaf.grad_fn if tracked and input_leaf.grad_fn is not None else None
    if tracked and source is None:
        source = _accumulate_node(output, input_leaf)
    readers = None if input_leaf is None else set() if tracked else _lookups_reading(output, input_leaf)
    walker = _Walker(source, readers)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 100_000))  # very deep nets make long chains; the walk is recursive
    try:
        reach, depth, ops = walker.visit(output.grad_fn) if output.grad_fn is not None else (False, 0, 0)
    finally:
        sys.setrecursionlimit(limit)
    param_depth, weight_ops = {}, 0
    for node, (node_reach, node_depth, _) in walker.memo.items():
        params = walker.weight_params.get(node, []) if node_reach and not _is_addition(node) else []
        weight_ops += 1 if params else 0
        for param in params:
            param_depth[id(param)] = max(param_depth.get(id(param), 0), node_depth)
    return GraphDepth(depth if reach else 0, ops if reach else 0, weight_ops, param_depth)


def _accumulate_node(output: torch.Tensor, leaf: torch.Tensor):
    """The AccumulateGrad node of ``leaf`` in ``output``'s graph (a leaf's own grad_fn is None)."""
    return next((node for node in _nodes(output) if getattr(node, "variable", None) is leaf), None)


def _nodes(output: torch.Tensor) -> Iterator:
    """Every autograd node behind ``output``, once each."""
    seen, stack = set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        yield node
        stack.extend(child for child, _ in getattr(node, "next_functions", ()))


def _lookups_reading(output: torch.Tensor, ids: torch.Tensor) -> set:
    """The embedding lookups whose indices are ``ids`` (or a view of them)."""
    storage = ids.untyped_storage().data_ptr()
    return {
        node
        for node in _nodes(output)
        if _is_lookup(node) and node._saved_indices.untyped_storage().data_ptr() == storage
    }

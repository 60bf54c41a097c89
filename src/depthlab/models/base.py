"""The interface every depthlab model shares (timm's method names).

A model is ``stem -> blocks -> pool/flatten -> head``. ``blocks`` is the depth axis: an ``nn.Sequential`` of
the repeated units, so probes tap after each block and lesions drop one. ``depth`` is the number of weight
layers on the longest input -> output path (the definition of Non-deep Networks, arXiv 2110.07641).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class DepthNet(nn.Module):
    """Base class: subclasses set ``config``, ``stem``, ``blocks``, ``pool`` and ``head`` in ``__init__``."""

    config: object
    stem: nn.Module
    blocks: nn.Sequential
    pool: nn.Module
    head: nn.Linear
    grad_checkpointing: bool = False

    @property
    def depth(self) -> int:
        """Weight layers on the longest input -> output path."""
        raise NotImplementedError

    @property
    def num_features(self) -> int:
        return self.head.in_features

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block's activations in backward instead of storing them (memory for very deep nets).

        Trade-off: one extra forward per block; BatchNorm running statistics are updated twice per step.
        """
        self.grad_checkpointing = enable

    def run_blocks(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.grad_checkpointing and torch.is_grad_enabled()):
            return self.blocks(x)
        for block in self.blocks:
            x = checkpoint(block, x, use_reentrant=False)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.run_blocks(self.stem(x)))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of the stem and of every block, in order (for probes and layer-response statistics)."""
        outputs = [self.stem(x)]
        for block in self.blocks:
            outputs.append(block(outputs[-1]))
        return outputs

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a fresh Linear layer for ``num_classes`` outputs."""
        old = self.head
        self.head = nn.Linear(
            self.num_features, num_classes, device=old.weight.device, dtype=old.weight.dtype
        )


@torch.no_grad()
def forward_hooked(model: nn.Module, x: torch.Tensor, handles: list) -> None:
    """One forward of ``x`` in eval mode for the forward hooks behind ``handles`` (a diagnostic must not
    update BatchNorm statistics); then the hooks are removed and the mode restored, whatever happened."""
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()


def random_input(
    model: nn.Module, input_shape: tuple[int, ...], batch_size: int, device=None, dtype=torch.float32
) -> torch.Tensor:
    """A random batch ``model`` takes: token ids below ``model.vocab_size`` when it reads tokens (a language
    model), else standard-normal features of ``dtype``."""
    vocab = getattr(model, "vocab_size", 0)
    if isinstance(vocab, int) and vocab > 0:
        return torch.randint(0, vocab, (batch_size, *input_shape), device=device)
    return torch.randn((batch_size, *input_shape), device=device, dtype=dtype)

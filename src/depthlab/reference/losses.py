"""Losses with explicit backward: mean squared error and softmax cross-entropy (batch-averaged)."""

from __future__ import annotations

import numpy as np


class MSE:
    """L = mean over all elements of (pred - target)²."""

    def forward(self, pred: np.ndarray, target: np.ndarray) -> float:
        self.diff = pred - target
        return float(np.mean(self.diff**2))

    def backward(self) -> np.ndarray:
        return 2.0 * self.diff / self.diff.size


class SoftmaxCrossEntropy:
    """L = mean over the batch of -log softmax(logits)[label]; labels are integer class indices."""

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        shifted = logits - logits.max(axis=1, keepdims=True)  # stable: exp never overflows
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs, self.labels = np.exp(log_probs), labels.astype(int).ravel()
        return float(-log_probs[np.arange(len(logits)), self.labels].mean())

    def backward(self) -> np.ndarray:
        grad = self.probs.copy()
        grad[np.arange(len(grad)), self.labels] -= 1.0
        return grad / len(grad)

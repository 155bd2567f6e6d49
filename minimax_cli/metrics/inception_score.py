"""Inception score (Salimans et al. 2016), reported by Askari Hemmat et al. 2023 (LEAD, Table 1).

    IS = exp( E_x KL( p(y|x) ‖ p(y) ) ),   p(y) = E_x p(y|x)

computed as in the original code: the N samples are cut into ``splits`` (10) consecutive parts
of N // splits samples (the remainder is dropped), the score is computed per part with p(y)
the part's mean, and the mean and (population) standard deviation over parts are returned.
Probabilities are the softmax of the FID Inception network's 1008 logits (``fid.InceptionFeatures``:
the same TF 2015-12-05 graph the original code used). 0·log 0 is taken as 0.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch


def inception_score(probs: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of the per-split scores from class probabilities (N, K)."""
    probs = torch.as_tensor(probs, dtype=torch.float64)
    n = len(probs) // splits
    if splits < 1 or n < 1:
        raise ValueError(f"the Inception score needs at least {max(splits, 1)} samples for {splits} splits "
                         f"(got {len(probs)})")
    scores = []
    for k in range(splits):
        part = probs[k * n:(k + 1) * n]
        py = part.mean(0, keepdim=True)
        kl = (torch.special.xlogy(part, part) - torch.special.xlogy(part, py)).sum(1).mean()
        scores.append(torch.exp(kl))
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(unbiased=False))


def inception_score_of(batches: Iterable[torch.Tensor], classifier: Callable[[torch.Tensor], torch.Tensor],
                       splits: int = 10) -> tuple[float, float]:
    """IS of images given a ``classifier`` returning logits (e.g. ``lambda x: model(x)[1]`` for
    an ``InceptionFeatures`` on prepared inputs; any classifier can be injected)."""
    with torch.no_grad():
        probs = torch.cat([torch.softmax(classifier(b).double(), dim=1).cpu() for b in batches])
    return inception_score(probs, splits)

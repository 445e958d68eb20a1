"""DoGE (LMO: linear dynamic law, A^t_ij = <grad L^val_i, grad L^train_j>, EG on a proxy, time-averaged).

Each proxy step takes a stratified training batch and a validation batch. It computes one gradient per group
present in the training batch (a forward and backward on that group's rows; no model copies), each clipped
to ``train.grad_clip``, and the validation gradient g_val. Group j scores
lr_t <g_j, g_val> / (mean_j |g_j| + 1e-6), clipped to [0, 5 lr_t]; then log w <- log w + score / mu, softmax;
the model steps on sum_j w_j g_j. The proportions are w averaged over all steps (final run: :class:`Doge`).

The validation batch holds ``val_batch_size`` sequences from the validation split. By default it has the same
number from every group and g_val is the gradient of the mean over groups of their losses, so the scores are
the column sums of the paper's A^t. ``methods.doge.reference_val_sampling: true`` draws it as the reference
code does instead: with replacement from the pooled validation split (groups weighted by their size).
"""

from __future__ import annotations

import numpy as np
import torch

from pipeline_lib.config.methods import DogeConfig
from pipeline_lib.lmo import eg_from_scores
from pipeline_lib.methods.base import NO_INPUTS, RunInputs, RunPort
from pipeline_lib.methods.fitted import FittedStatic
from pipeline_lib.methods.proxy import ProxyPolicy


def doge_scores(
    train_grads: np.ndarray, val_grad: np.ndarray, lr: float, score_max: float = 5.0
) -> np.ndarray:
    """lr <g_j, g_val> / (mean_j |g_j| + 1e-6), clipped to [0, score_max lr]; absent groups: zero rows."""
    train_grads = np.asarray(train_grads, dtype=float)
    dots, norms = train_grads @ np.asarray(val_grad, dtype=float), np.linalg.norm(train_grads, axis=1)
    return scores_from_products(dots, norms, lr, score_max)


def scores_from_products(dots: np.ndarray, norms: np.ndarray, lr: float, score_max: float) -> np.ndarray:
    """:func:`doge_scores` from the products <g_j, g_val> and norms |g_j| (computed on the device)."""
    raw = lr * np.asarray(dots) / (np.mean(norms) + 1e-6)
    return np.clip(raw, 0.0, score_max * lr)


def doge_update(w: np.ndarray, scores: np.ndarray, mu: float) -> np.ndarray:
    """softmax(log w + scores / mu): EG with step 1/mu on the scores (the column sums of A)."""
    return eg_from_scores(w, scores, 1.0 / mu)


def _flat_grad(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    parts = [g if g is not None else torch.zeros_like(p) for g, p in zip(grads, params, strict=True)]
    return torch.cat([g.reshape(-1).float() for g in parts])


def _clipped(flat: torch.Tensor, clip: float) -> torch.Tensor:
    norm = flat.norm()
    if clip > 0 and norm > clip:  # as clip_grad_norm_ does to each group's gradient in the reference
        flat = flat * (clip / (norm + 1e-6))
    return flat


def per_group_grads(
    run: RunPort, batch: torch.Tensor, groups: np.ndarray, clip: float = 0.0
) -> tuple[torch.Tensor, np.ndarray, float]:
    """(m, P) clipped gradients of each group's mean token loss (zero rows for absent groups), presence and
    the batch's mean loss. One forward and backward per present group, on that group's rows only;
    data-parallel ranks pool their groups' gradients (weighted by rows) before clipping."""
    params = run.trainable_parameters()
    m = len(run.groups)
    out = torch.zeros(m, sum(p.numel() for p in params), device=batch.device)
    counts = np.bincount(groups, minlength=m)
    total = 0.0
    for j in np.flatnonzero(counts):
        rows = np.flatnonzero(groups == j)
        loss = run.forward_losses(batch[torch.as_tensor(rows, device=batch.device)]).mean()
        out[j] = _flat_grad(loss, params)
        total += loss.item() * rows.size
    out, present = run.ranks.pool_means(out, counts)
    for j in np.flatnonzero(present):
        out[j] = _clipped(out[j], clip)
    return out, present, total / len(groups)


class DogeProxy(ProxyPolicy):
    """The proxy run: per-group gradients, alignment with the validation gradient, weighted model gradient."""

    cfg: DogeConfig
    state_fields = (*ProxyPolicy.state_fields, "rng")

    def __init__(self, groups: tuple[str, ...], cfg: DogeConfig, inputs: RunInputs = NO_INPUTS) -> None:
        super().__init__(groups, cfg, inputs)
        self.rng: np.random.Generator | None = None

    def start(self, run: RunPort) -> np.ndarray:
        self.rng = np.random.default_rng([run.seed, 7])  # its own stream: batches stay the same
        return super().start(run)

    def val_batch(self, run: RunPort) -> tuple[np.ndarray, np.ndarray]:
        """(B_val, T + 1) validation chunks and their groups."""
        n, chunks = self.cfg.val_batch_size, run.val_chunks
        if self.cfg.reference_val_sampling:
            sizes = np.array([len(c) for c in chunks])
            picks = self.rng.integers(0, sizes.sum(), n)
            groups = np.searchsorted(np.cumsum(sizes), picks, side="right")
            starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
            rows = [chunks[g][i - starts[g]] for g, i in zip(groups, picks, strict=True)]
        else:
            groups = np.repeat(np.arange(self.m), self.cfg.val_rows(self.m) // self.m)
            rows = [chunks[g][self.rng.integers(len(chunks[g]))] for g in groups]
        return np.stack(rows), groups

    def val_grad(self, run: RunPort, clip: float) -> torch.Tensor:
        """The clipped gradient of the validation batch's loss (data-parallel ranks: each scores a share)."""
        chunks, groups = map(run.ranks.shard, self.val_batch(run))
        losses = run.forward_losses(torch.from_numpy(chunks).to(run.device))
        if self.cfg.reference_val_sampling:
            loss = run.ranks.share_mean(losses)
        else:  # the mean over groups of each group's validation loss
            loss = torch.stack(run.ranks.group_means(losses, groups, self.m)[0]).mean()
        return _clipped(run.ranks.sum_(_flat_grad(loss, run.trainable_parameters())), clip)

    def backward(self, run: RunPort, batch: torch.Tensor, groups: np.ndarray) -> float:
        clip = run.grad_clip
        grads, _, mean_loss = per_group_grads(run, batch, groups, clip)
        g_val = self.val_grad(run, clip)
        dots, norms = (grads @ g_val).cpu().numpy(), grads.norm(dim=1).cpu().numpy()
        scores = scores_from_products(dots, norms, run.lr, self.cfg.score_max)
        self.w = doge_update(self.w, scores, self.cfg.mu)
        self.record(run.step, scores)
        run.set_gradient(torch.as_tensor(self.w, dtype=grads.dtype, device=grads.device) @ grads)  # (P,)
        return mean_loss


class Doge(FittedStatic):
    """The final run on the proxy's time-averaged weights."""

    fit_name = "doge"

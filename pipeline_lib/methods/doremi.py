"""DoReMi (LMO: linear dynamic law, A^t = diag(clipped excess loss), EG on a proxy, time-averaged).

The reference model is the stratified run of the same setting and seed (its ``state.pt``). A proxy trains
on stratified batches; each step it scores group d by the excess loss e_d = max(l_d - r_d, 0) of proxy over
reference (an absent group keeps its previous score), moves the log-weights by ``mu * e``, applies softmax
and ``smoothing`` towards uniform, and trains on sum_d w_d l_d. The proportions are the weights averaged over
all updates; the final static run trains on them (policy :class:`Doremi`).

``methods.doremi.reference_microbatch: true`` reproduces the reference code instead: the proxy runs twice
the steps at half the batch (gradient accumulation 2), the first micro-batch of each pair is discarded (the
optimizer steps on an empty gradient), the losses are halved, and each group's backward is clipped.
"""

from __future__ import annotations

import numpy as np
import torch

from pipeline_lib.config.methods import DoremiConfig
from pipeline_lib.lmo import eg_from_scores
from pipeline_lib.lmo.dynamic import doremi_A
from pipeline_lib.methods.base import NO_INPUTS, RunInputs, RunPort
from pipeline_lib.methods.fitted import FittedStatic
from pipeline_lib.methods.proxy import ProxyPolicy
from pipeline_lib.model import GPT, ModelConfig
from pipeline_lib.state_file import read_state


def doremi_update(
    w: np.ndarray,
    excess: np.ndarray,
    present: np.ndarray,
    prev_scores: np.ndarray,
    mu: float,
    smoothing: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """One weight update: scores = clipped excess (previous score where absent), then
    w <- (1 - smoothing) softmax(log w + mu * scores) + smoothing / m. Returns (w, scores)."""
    scores = np.where(present, np.maximum(excess, 0.0), prev_scores)
    w_new = eg_from_scores(w, doremi_A(scores).sum(axis=0), mu)  # EG on the column sums of A
    return (1.0 - smoothing) * w_new + smoothing / len(w_new), scores


class DoremiProxy(ProxyPolicy):
    """The proxy run: weighted excess-loss objective against a frozen reference model."""

    cfg: DoremiConfig
    state_fields = (*ProxyPolicy.state_fields, "scores")

    def __init__(self, groups: tuple[str, ...], cfg: DoremiConfig, inputs: RunInputs = NO_INPUTS) -> None:
        super().__init__(groups, cfg, inputs)
        self.reference_path = inputs.need("reference", "doremi_proxy")
        self.scores = np.zeros(self.m)
        self.reference: GPT | None = None

    def start(self, run: RunPort) -> np.ndarray:
        if self.cfg.reference_microbatch and run.ranks.parallel:
            raise ValueError(
                "methods.doremi.reference_microbatch reproduces the single-process reference code (it clips "
                "each group's backward); run it with resources.gpus_per_run <= 1"
            )
        state = read_state(self.reference_path)
        cfg = ModelConfig(**state["model_config"])
        if cfg != run.model_config:
            raise ValueError(
                f"{self.reference_path}: the reference model's shape {cfg} differs from the "
                f"proxy's {run.model_config}; rerun the stratified run of this setting"
            )
        self.reference = GPT(cfg).to(run.device)
        self.reference.load_state_dict(state["model"])
        self.reference.eval().requires_grad_(False)
        return super().start(run)

    def backward(self, run: RunPort, batch: torch.Tensor, groups: np.ndarray) -> float:
        quirk = self.cfg.reference_microbatch
        if quirk and run.step % 2 == 0:  # the reference code overwrites this micro-batch's losses
            with torch.no_grad():
                return run.forward_losses(batch).mean().item()
        losses = run.forward_losses(batch)  # (B, T)
        with torch.no_grad(), run.autocast:
            _, ref_losses = self.reference(batch[:, :-1], batch[:, 1:])
        proxy, present = run.ranks.group_means(losses, groups, self.m)  # over every rank's rows
        ref, _ = run.ranks.group_means(ref_losses, groups, self.m)
        scale = 0.5 if quirk else 1.0  # the reference divides by gradient_accumulation_steps
        excess = np.array(
            [scale * (p.item() - r.item()) if p is not None else 0.0 for p, r in zip(proxy, ref, strict=True)]
        )
        self.w, self.scores = doremi_update(
            self.w, excess, present, self.scores, self.cfg.mu, self.cfg.smoothing
        )
        self.record(run.step, self.scores)
        terms = [float(self.w[j]) * scale * proxy[j] for j in range(self.m) if present[j]]
        if quirk:  # one backward per group, clipping the accumulated gradient after each
            for term in terms:
                term.backward(retain_graph=True)
                if run.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(run.trainable_parameters(), run.grad_clip)
        else:
            torch.stack(terms).sum().backward()
        return losses.mean().item()


class Doremi(FittedStatic):
    """The final run on the proxy's time-averaged weights."""

    fit_name = "doremi"

"""The trainer every run uses: mixture-sampled batches, AdamW, warm-up + cosine, per-group evaluation.

The data-mixing method is a :class:`~pipeline_lib.methods.base.MixturePolicy`; the trainer never knows
which method it runs, and the policy sees only the :class:`~pipeline_lib.methods.base.RunPort` the trainer
implements.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pipeline_lib.config import RunSpec
from pipeline_lib.data.documents import DataError
from pipeline_lib.data.sampler import MixtureSampler
from pipeline_lib.data.tokens import GroupTokens
from pipeline_lib.lmo.simplex import check_mixture
from pipeline_lib.methods.base import MixturePolicy
from pipeline_lib.model import GPT
from pipeline_lib.parallel import SINGLE, Ranks
from pipeline_lib.progress import append_progress
from pipeline_lib.state_file import STATE_FORMAT
from pipeline_lib.train.checkpoint import Checkpointer
from pipeline_lib.train.evaluate import batch_to_device, group_losses, row_losses
from pipeline_lib.train.evaluations import TEST, VALIDATION, Evaluation, Scored, scored
from pipeline_lib.train.schedule import lr_at
from pipeline_lib.train.tracking import Tracker

if TYPE_CHECKING:
    from pipeline_lib.tasks.batching import TaskRows

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"train.device is '{name}' but no CUDA device is available; use 'auto' or 'cpu'")
    return torch.device(name)


def autocast_for(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (``auto`` or ``bf16``), full fp32 otherwise."""
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def progress_bar(total: int, initial: int, desc: str) -> Any:
    """A tqdm progress bar; a silent stand-in where tqdm is not installed (a bare GPU image)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _SilentBar()
    return tqdm(total=total, initial=initial, desc=desc, unit="step", mininterval=10)


class _SilentBar:
    def set_postfix(self, **kwargs: object) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class DivergenceError(RuntimeError):
    """Training diverged: a non-finite loss, or one above ``train.max_loss``."""


@dataclass
class History:
    """What a run records over time: validation curves and the mixture it trained on."""

    curve: list[dict] = field(default_factory=list)
    mixture: list[dict] = field(default_factory=list)
    val: list[np.ndarray] = field(default_factory=list)  # the curve's losses, one (m,) row per evaluation


class Trainer:
    """Owns the model, optimiser, sampler and evaluation sets of one run; a policy's :class:`RunPort`."""

    def __init__(
        self,
        spec: RunSpec,
        data: Sequence[GroupTokens],
        device: torch.device | None = None,
        progress: Path | None = None,
        tracker: Tracker | None = None,
        ranks: Ranks = SINGLE,
    ) -> None:
        self.spec, self.cfg, self.ranks = spec, spec.train, ranks
        self.groups = tuple(g.name for g in data)
        if self.groups != spec.groups:
            raise ValueError(f"data groups {self.groups} do not match the run's groups {spec.groups}")
        self.device = device or resolve_device(self.cfg.device)
        if ranks.parallel and self.device.type == "cuda":
            self.device = torch.device("cuda", ranks.local_rank)
        self.local_rows = ranks.rows(self.cfg.batch_size)  # checks the batch splits evenly
        torch.manual_seed(spec.seed)
        vocab = max(int(g.meta["vocab_size"]) for g in data)
        model_cfg = replace(spec.model, vocab_size=vocab)  # the tokenizer decides the vocabulary
        self.model = GPT(model_cfg, self.cfg.attention, self.cfg.loss_chunk).to(self.device)
        self.model_config = model_cfg
        self._forward = self._compiled(self.model) if self.cfg.compile else self.model
        self._train_forward = self._data_parallel() if ranks.parallel else self._forward
        self._grad_reduced = False  # set when this step's gradient is already the same on every rank
        self._eval_model = self.model
        if self.cfg.eval_compile:
            self._eval_model = self._forward if self.cfg.compile else self._compiled(self.model)
        self.optimizer = torch.optim.AdamW(
            self.model.param_groups(self.cfg.weight_decay),
            lr=lr_at(0, self.cfg),
            betas=(self.cfg.beta1, self.cfg.beta2),
            eps=self.cfg.eps,
            fused=self.device.type == "cuda",
        )
        self.autocast = autocast_for(self.device, self.cfg.precision)
        context = model_cfg.context
        self.sampler = MixtureSampler([g.train for g in data], context, spec.seed, self.groups)
        for g in data:
            for split, tokens in (("val", g.val), ("test", g.test)):
                if len(tokens) < context + 1:
                    raise DataError(
                        f"group '{g.name}' has {len(tokens):,} {split} tokens, fewer than one evaluation "
                        f"sequence (model.context + 1 = {context + 1:,}): raise data.split fractions or "
                        "lower model.context"
                    )
        self.val_items, self.test_items = scored(data, "val"), scored(data, "test")
        self.val_chunks = [VALIDATION.chunks(s, context, self.cfg) for s in self.val_items]
        self.policy: MixturePolicy | None = None
        self.step = 0
        self.tokens = 0
        self.p = np.full(len(self.groups), 1.0 / len(self.groups))
        self.history = History()
        self.timers = {"train": 0.0, "eval": 0.0}
        self.last_loss: float | None = None  # the last training loss read back to the host
        self._pending: list[tuple[int, float, torch.Tensor | float]] = []  # (step, lr, loss) not yet read
        self.progress = progress  # step, steps, training and validation losses per evaluation, as JSON lines
        self.tracker = tracker  # training loss and lr, p^t and the validation records, to experiment trackers

    def _data_parallel(self) -> torch.nn.Module:
        """The model under DDP for the default objective: rank 0's weights broadcast, gradients averaged in
        buckets while the backward pass runs."""
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        ddp = DistributedDataParallel(self.model, device_ids=ids, broadcast_buffers=False)
        return self._compiled(ddp) if self.cfg.compile else ddp

    def _compiled(self, module: torch.nn.Module) -> Any:
        mode = self.cfg.compile_mode
        return torch.compile(module) if mode == "default" else torch.compile(module, mode=mode)

    # -- the policy's port (RunPort) ------------------------------------------------------------------
    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def total_steps(self) -> int:
        return self.cfg.steps

    @property
    def eval_every(self) -> int:
        return self.cfg.eval_every

    @property
    def grad_clip(self) -> float:
        return self.cfg.grad_clip

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def val_history(self) -> np.ndarray:
        return np.stack(self.history.val)

    @property
    def warmup_steps(self) -> int:
        return self.cfg.warmup_steps

    def train(self, q: np.ndarray, steps: int, exact: bool = False) -> np.ndarray:
        realised = np.zeros(len(self.groups))
        for _ in range(steps):
            self.train_step(q, exact=exact)
            realised += self.last_mixture
        return realised / max(steps, 1)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def set_gradient(self, flat: torch.Tensor) -> None:
        self._grad_reduced = True  # a policy sets a gradient it has already reduced over ranks
        offset = 0
        for p in self.trainable_parameters():
            p.grad = flat[offset : offset + p.numel()].view_as(p).to(p.dtype)
            offset += p.numel()

    def set_mixture(self, p: np.ndarray) -> None:
        self.p = check_mixture(p, len(self.groups), "policy mixture")
        row = {"step": self.step}
        row.update({g: float(v) for g, v in zip(self.groups, self.p, strict=True)})
        if self.history.mixture and self.history.mixture[-1]["step"] == self.step:
            self.history.mixture[-1] = row
        else:
            self.history.mixture.append(row)
        if self.tracker is not None:
            self.tracker.log(self.step, {f"mixture/{g}": v for g, v in row.items() if g != "step"})

    def forward_losses(self, batch: torch.Tensor) -> torch.Tensor:
        """Per-token losses (B, T) of a (B, T + 1) token batch, under the run's autocast."""
        with self.autocast:
            _, losses = self._forward(batch[:, :-1], batch[:, 1:])
        return losses

    def backward_mean(self, batch: torch.Tensor, groups: np.ndarray) -> float | torch.Tensor:
        """The default objective: mean token loss over the batch; leaves its gradient in the model. Returns
        the loss as a float, or as a detached device scalar when the run reads losses lazily
        (``train.sync_every`` > 1)."""
        with self.autocast:
            _, losses = self._train_forward(batch[:, :-1], batch[:, 1:])
        loss = losses.mean()
        loss.backward()  # under DDP: this rank's mean, gradients averaged over ranks
        self._grad_reduced = self.ranks.parallel
        return loss.item() if self.cfg.sync_every == 1 else loss.detach()

    def train_step(self, p: np.ndarray | None = None, exact: bool = False) -> float | None:
        """One optimizer step on a batch drawn from p (default: the current mixture); returns the last
        training loss read back to the host (this step's unless ``train.sync_every`` > 1).

        The gradient comes from the running policy's ``backward`` (DoReMi and DoGE weight groups there),
        by default the mean token loss; then clipping and the AdamW step. Data-parallel ranks draw the same
        batch and each backpropagates its share of the rows."""
        t0 = time.perf_counter()
        if self.cfg.compile and self.cfg.compile_mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # this step's graphs may reuse the last one's memory
        batch, groups = self.sampler.sample(self.p if p is None else p, self.cfg.batch_size, exact=exact)
        self.last_mixture = np.bincount(groups, minlength=len(self.groups)) / len(groups)
        local = self.local_rows  # the whole batch in a single process
        batch_t = batch_to_device(batch[local], self.device, self.cfg.pin_memory)
        lr = lr_at(self.step, self.cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self._grad_reduced = False
        if self.policy is not None:
            value = self.policy.backward(self, batch_t, groups[local])
        else:
            value = self.backward_mean(batch_t, groups[local])
        if not self._grad_reduced:
            self.ranks.sum_grads(self.trainable_parameters())  # each rank's share of a policy's objective
        self._pending.append((self.step, lr, value))
        if not isinstance(value, torch.Tensor) or len(self._pending) >= self.cfg.sync_every:
            self.sync_losses()  # a float is checked before the optimizer steps on it, as always
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.tokens += batch.shape[0] * (batch.shape[1] - 1)
        self.timers["train"] += time.perf_counter() - t0
        return self.last_loss

    def sync_losses(self) -> float | None:
        """Read the pending training losses back to the host in one transfer and check each for divergence;
        returns the last one. Data-parallel ranks read the mean of their shares: the whole batch's loss."""
        if not self._pending:
            return self.last_loss
        pending, self._pending = self._pending, []
        for (step, lr, _), value in zip(pending, self._read([v for _, _, v in pending]), strict=True):
            self.last_loss = value
            self._check_loss(value, lr, step)
            if self.tracker is not None:
                self.tracker.log(step, {"train/loss": value, "train/lr": lr})
        return self.last_loss

    def _read(self, values: list[float | torch.Tensor]) -> list[float]:
        if self.ranks.parallel:  # host floats and device scalars alike, on the device, in one all-reduce
            on_device = [torch.as_tensor(v, dtype=torch.float32, device=self.device) for v in values]
            return self.ranks.mean_(torch.stack(on_device)).tolist()
        lazy = [v for v in values if isinstance(v, torch.Tensor)]
        read = iter(torch.stack(lazy).float().tolist() if lazy else [])
        return [next(read) if isinstance(v, torch.Tensor) else float(v) for v in values]

    def _check_loss(self, value: float, lr: float, step: int) -> None:
        bound = self.cfg.max_loss
        if math.isfinite(value) and (bound is None or value <= bound):
            return
        why = "is not finite" if not math.isfinite(value) else f"exceeds train.max_loss = {bound:g}"
        raise DivergenceError(
            f"{self.spec.setting}/{self.spec.method} seed {self.spec.seed}: the training loss {value:.6g} at "
            f"step {step} (lr {lr:.3g}) {why}; the run diverged. Lower train.lr, lengthen "
            "train.warmup_steps or tighten train.grad_clip, then rerun"
        )

    def evaluate(self, split: str = "val") -> np.ndarray:
        """Per-group mean loss on the fixed validation subset ('val') or the whole test split ('test')."""
        if split == "val":
            return self._score(self.val_chunks)
        return self.score(TEST, self.test_items)

    def score(self, evaluation: Evaluation, items: Sequence[Scored]) -> np.ndarray:
        """Each item's mean token loss under ``evaluation`` (its chunks of each item's split)."""
        return self._score([evaluation.chunks(s, self.model_config.context, self.cfg) for s in items])

    def _score(self, chunks: Sequence[np.ndarray]) -> np.ndarray:
        self.sync_losses()  # evaluation reads its losses back anyway: the training losses come with them
        t0 = time.perf_counter()
        cfg = self.cfg
        losses = group_losses(
            self._eval_model, chunks, cfg.eval_batch_size, self.device, self.autocast, cfg.pin_memory,
            self.ranks,
        )  # fmt: skip
        self.timers["eval"] += time.perf_counter() - t0
        return losses

    def score_rows(self, rows: Sequence[TaskRows]) -> list[np.ndarray]:
        """Each task's per-row masked NLL sums (nats) of its ``(tokens, mask)`` rows
        (:class:`~pipeline_lib.train.evaluations.TaskSuiteBPB`), through the uncompiled model (rows vary in
        width), under the run's autocast, data-parallel ranks sharing the batches."""
        self.sync_losses()
        t0 = time.perf_counter()
        pairs = [(r.tokens, r.mask) for r in rows]
        out = row_losses(self.model, pairs, self.cfg.eval_batch_size, self.device, self.autocast, self.ranks)
        self.timers["eval"] += time.perf_counter() - t0
        return out

    def record_val(self, losses: np.ndarray) -> None:
        self.history.val.append(np.asarray(losses, dtype=float))
        for group, value in zip(self.groups, losses, strict=True):
            self.history.curve.append(
                {"step": self.step, "tokens": self.tokens, "group": group, "val_loss": float(value)}
            )
        values = {g: round(float(v), 4) for g, v in zip(self.groups, losses, strict=True)}
        log.info("step %d/%d val loss %s", self.step, self.cfg.steps, values)
        if self.progress is not None:
            train_loss = None if self.last_loss is None else round(float(self.last_loss), 4)  # no sync
            append_progress(
                self.progress,
                self.step,
                self.cfg.steps,
                tokens=self.tokens,
                train_loss=train_loss,
                val_loss=values,
            )
        if self.tracker is not None:
            mean = sum(float(v) for v in losses) / len(self.groups)
            scalars = {f"val_loss/{g}": float(v) for g, v in zip(self.groups, losses, strict=True)}
            self.tracker.log(self.step, {**scalars, "val_loss/mean": mean, "tokens": self.tokens})

    # -- the loop -----------------------------------------------------------------------------------
    def run(
        self, policy: MixturePolicy, until: int | None = None, checkpointer: Checkpointer | None = None
    ) -> np.ndarray | None:
        """Train under ``policy`` from the current step to ``until`` (default: the schedule's end).

        Validation runs at the start, every ``eval_every`` steps and at the stop. With a ``checkpointer`` the
        run continues from its checkpoint, if one is there, and writes one whenever it is due. Returns the
        per-group test losses when the schedule is complete, None when the run stops early (a break step) or
        is a learning run with ``test_eval`` off."""
        total, every = until if until is not None else self.cfg.steps, self.cfg.eval_every
        if not self.step <= total <= self.cfg.steps:
            raise ValueError(
                f"cannot train from step {self.step} to {total} on a {self.cfg.steps}-step schedule"
            )
        self.policy = policy
        saved = checkpointer.load() if checkpointer is not None else None
        if saved is None:
            if self.progress is not None:
                self.progress.write_text("")
            self.set_mixture(policy.start(self))
            self.record_val(self.evaluate("val"))
            next_eval = (self.step // every + 1) * every
        else:
            policy.start(self)  # what the policy loads (a reference model); its state is the checkpoint's
            next_eval = self.restore(saved, policy)
            log.info("resumed from %s at step %d", checkpointer.path, self.step)
        last_checkpoint = self.step
        desc = f"{self.spec.setting}/{self.spec.method}"
        bar = progress_bar(total, self.step, desc) if self.ranks.is_main else _SilentBar()
        while self.step < total:
            before = self.step
            new_p = policy.before_step(self)
            if new_p is not None:
                self.set_mixture(new_p)
            if self.step < total:
                loss = self.train_step()
                if loss is not None:
                    bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            bar.update(self.step - before)
            if self.step >= next_eval or self.step == total:
                losses = self.evaluate("val")
                self.record_val(losses)
                next_eval = (self.step // every + 1) * every
                new_p = policy.after_eval(self, losses)
                if new_p is not None:
                    self.set_mixture(new_p)
            if checkpointer and self.step < total and checkpointer.due(self.step, last_checkpoint):
                checkpointer.save(self.checkpoint(policy, next_eval))
                last_checkpoint = self.step
        bar.close()
        self.sync_losses()
        return self.evaluate("test") if self.step == self.cfg.steps and self.cfg.test_eval else None

    def checkpoint(self, policy: MixturePolicy, next_eval: int) -> dict:
        """What the loop needs to continue exactly: trainer, torch RNG, history, next evaluation, policy."""
        self.sync_losses()  # a resumed run must not lose a divergence check
        return {
            "trainer": self.state_dict(),
            "p": self.p.copy(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            "history": asdict(self.history),
            "next_eval": next_eval,
            "policy": policy.state_dict(),
        }

    def restore(self, saved: dict, policy: MixturePolicy) -> int:
        """Load a :meth:`checkpoint`; returns the loop's next evaluation step."""
        self.load_state_dict(saved["trainer"])
        self.p = np.asarray(saved["p"]).copy()  # exactly as saved, not renormalised
        torch.set_rng_state(saved["torch_rng"])
        if saved["cuda_rng"] is not None:
            torch.cuda.set_rng_state_all(saved["cuda_rng"])
        self.history = History(**saved["history"])
        policy.load_state_dict(saved["policy"])
        return int(saved["next_eval"])

    def state_dict(self) -> dict:
        """Everything needed to resume: model, optimizer, counters, mixture and sampler RNG states (plain
        values and tensors: ``state.pt`` loads without unpickling)."""
        return {
            "format": STATE_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "tokens": self.tokens,
            "p": self.p.tolist(),
            "sampler": self.sampler.state(),
            "model_config": asdict(self.model_config),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.tokens = int(state["step"]), int(state["tokens"])
        self.set_mixture(np.asarray(state["p"]))
        self.sampler.load_state(state["sampler"])

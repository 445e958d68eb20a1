from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pipeline_lib.config import RunSpec, TrainConfig
from pipeline_lib.data.documents import DataError
from pipeline_lib.data.tokens import GroupTokens
from pipeline_lib.methods import make_policy
from pipeline_lib.methods.base import MixturePolicy
from pipeline_lib.model import ModelConfig
from pipeline_lib.train.trainer import Trainer


def _groups(m: int = 2, vocab: int = 40) -> list[GroupTokens]:
    rng = np.random.default_rng(0)
    out = []
    for g in range(m):
        # each group is a different repeating pattern, so it is learnable and distinguishable
        pattern = rng.integers(0, vocab, 7 + g)
        stream = np.tile(pattern, 400).astype(np.uint16)
        meta = {"group": f"g{g}", "vocab_size": vocab, "dtype": "uint16"}
        out.append(GroupTokens(f"g{g}", stream[:2000], stream[2000:2400], stream[2400:2800], meta))
    return out


def _spec(method: str = "stratified", steps: int = 12, **params) -> RunSpec:
    model = ModelConfig(n_layer=1, n_head=2, d_model=16, context=16, vocab_size=40)
    train = TrainConfig(steps=steps, batch_size=4, warmup_steps=2, eval_every=4, val_sequences=4, lr=3e-3)
    return RunSpec("t", ("g0", "g1"), method, params, 0, model, train)


def test_run_records_curves_mixture_and_learns():
    trainer = Trainer(_spec(steps=40), _groups())
    test = trainer.run(make_policy("stratified", ("g0", "g1")))
    assert trainer.step == 40 and trainer.tokens == 40 * 4 * 16
    steps = sorted({r["step"] for r in trainer.history.curve})
    assert steps == [0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    first = [r["val_loss"] for r in trainer.history.curve if r["step"] == 0]
    assert np.all(test < np.array(first) - 0.5)  # periodic patterns are learned
    assert trainer.history.mixture == [{"step": 0, "g0": 0.5, "g1": 0.5}]


def test_learning_runs_skip_the_test_pass_but_keep_their_curves():
    import dataclasses

    spec = _spec()
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, test_eval=False))
    trainer = Trainer(spec, _groups())
    assert trainer.run(make_policy("stratified", ("g0", "g1"))) is None
    assert trainer.step == 12 and max(r["step"] for r in trainer.history.curve) == 12


def test_a_split_shorter_than_one_chunk_fails_naming_group_and_split():
    groups = _groups()
    g = groups[1]
    groups[1] = GroupTokens(g.name, g.train, g.val, g.test[:16], g.meta)  # context 16 needs 17 tokens
    message = r"group 'g1' has 16 test tokens, fewer than one evaluation sequence \(model\.context \+ 1 = 17"
    with pytest.raises(DataError, match=message):
        Trainer(_spec(), groups)


def test_allocator_tuning_applies_on_glibc():
    import platform

    from pipeline_lib.train.allocator import keep_freed_memory

    assert keep_freed_memory() == (platform.libc_ver()[0] == "glibc")


def test_same_seed_same_numbers():
    a = Trainer(_spec(), _groups()).run(make_policy("static", ("g0", "g1"), {"proportions": [0.3, 0.7]}))
    b = Trainer(_spec(), _groups()).run(make_policy("static", ("g0", "g1"), {"proportions": [0.3, 0.7]}))
    np.testing.assert_array_equal(a, b)


def test_resume_from_state_matches_an_uninterrupted_run():
    straight = Trainer(_spec(steps=10), _groups())
    straight.set_mixture(np.array([0.4, 0.6]))
    for _ in range(10):
        straight.train_step()
    first = Trainer(_spec(steps=10), _groups())
    first.set_mixture(np.array([0.4, 0.6]))
    for _ in range(5):
        first.train_step()
    state = first.state_dict()
    resumed = Trainer(_spec(steps=10), _groups())
    resumed.load_state_dict(state)
    for _ in range(5):
        resumed.train_step()
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


class _SwitchAtEval(MixturePolicy):
    def start(self, trainer):
        return np.array([1.0, 0.0])

    def after_eval(self, trainer, val_losses):
        return np.array([0.0, 1.0]) if trainer.step == 4 else None


def test_policy_hooks_change_the_mixture_and_are_traced():
    trainer = Trainer(_spec(steps=8), _groups())
    trainer.run(_SwitchAtEval(("g0", "g1"), None))
    assert trainer.history.mixture == [{"step": 0, "g0": 1.0, "g1": 0.0}, {"step": 4, "g0": 0.0, "g1": 1.0}]


def test_static_policy_rejects_bad_proportions():
    with pytest.raises(ValueError, match="non-negative weights summing to 1"):
        make_policy("static", ("g0", "g1"), {"proportions": [0.5, 0.6]}).start(None)


def test_methods_of_one_seed_share_initial_weights_and_chunk_orders():
    """Common random numbers: within a seed, two methods start from the same weights and each group walks
    its chunks in the same order, so a paired difference measures the mixture, not the draw."""
    a = Trainer(_spec("stratified"), _groups())
    b = Trainer(_spec("aioli", lp_rounds=1), _groups())
    for x, y in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
    a.set_mixture(np.array([0.9, 0.1]))
    b.set_mixture(np.array([0.2, 0.8]))
    for _ in range(6):  # different mixtures draw different groups ...
        a.train_step()
        b.train_step()
    for g in range(2):  # ... yet each group's k-th chunk is the same in both runs
        sa, sb = a.sampler.streams[g], b.sampler.streams[g]
        assert sa._order.tolist() == sb._order.tolist()
    other_seed = Trainer(dataclasses.replace(_spec("stratified"), seed=1), _groups())
    assert not torch.equal(next(other_seed.model.parameters()), next(a.model.parameters()))

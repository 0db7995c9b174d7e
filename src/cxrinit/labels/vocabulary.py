"""A term-kind source's ontology against the real release's label vocabulary.

``reference/padchest_label_terms.txt`` lists the 193 distinct terms of the real PadChest release's
``Labels`` column. :func:`coverage` says which terms feed which finding, which are deliberately
unmapped (with their reason) and which are neither (a gap); :func:`substring_catches` lists, per
finding, every real term the study's substring rule catches that the exact rule does not (the
traps of the ``paper`` preset: ``normal`` inside ``abnormal foreign body``). ``python -m
cxrinit.labels.vocabulary --write docs/labels.md`` renders that list into the docs.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .ontology import Ontology, load_ontology

#: The real vocabulary of each source that has one here.
REFERENCES = {"padchest": "padchest_label_terms.txt"}
#: Where the substring table goes in the docs.
BEGIN, END = "<!-- substring-catches:padchest:begin -->", "<!-- substring-catches:padchest:end -->"


def reference_terms(source: str) -> list[str]:
    """The real release's distinct label terms of ``source`` (comment lines skipped); KeyError if none is kept."""
    text = resources.files("cxrinit.labels").joinpath("reference", REFERENCES[source]).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@dataclass
class Coverage:
    """``mapped``: term -> the findings it feeds (exact rule); ``unmapped``: term -> reason; ``neither``:
    real terms the ontology says nothing about; ``unknown``: configured terms the release never uses."""

    mapped: dict[str, list[str]] = field(default_factory=dict)
    unmapped: dict[str, str] = field(default_factory=dict)
    neither: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def coverage(ontology: Ontology, source: str, terms: list[str]) -> Coverage:
    """How ``source``'s entry in the ontology covers the real ``terms`` (compared case-insensitively)."""
    spec = ontology.source(source)
    fed: dict[str, list[str]] = {}
    for finding, feed in spec.findings.items():
        for native in feed.natives:
            fed.setdefault(native.casefold(), []).append(finding)
    unmapped = {t.casefold(): r for t, r in spec.unmapped.items()}
    real = {t.casefold() for t in terms}
    out = Coverage()
    for term in terms:
        key = term.casefold()
        if key in fed:
            out.mapped[term] = fed[key]
        elif key in unmapped:
            out.unmapped[term] = unmapped[key]
        else:
            out.neither.append(term)
    out.unknown = sorted({*fed, *unmapped} - real)
    return out


def substring_catches(ontology: Ontology, source: str, terms: list[str]) -> dict[str, list[str]]:
    """Per finding, the real terms its substrings catch that its exact terms do not (the paper preset's extras)."""
    spec = ontology.source(source)
    out: dict[str, list[str]] = {}
    for finding, feed in spec.findings.items():
        exact = {n.casefold() for n in feed.natives}
        subs = [s.casefold() for s in feed.substrings]
        extra = [t for t in terms if t.casefold() not in exact and any(s in t.casefold() for s in subs)]
        if extra:
            out[finding] = extra
    return out


def substring_misses(ontology: Ontology, source: str, terms: list[str]) -> dict[str, list[str]]:
    """Per finding, the real terms its exact rule feeds that none of its substrings occurs in."""
    spec = ontology.source(source)
    out: dict[str, list[str]] = {}
    for finding, feed in spec.findings.items():
        subs = [s.casefold() for s in feed.substrings]
        exact = {n.casefold() for n in feed.natives}
        missed = [t for t in terms if t.casefold() in exact and not any(s in t.casefold() for s in subs)]
        if missed:
            out[finding] = missed
    return out


def substring_table(ontology: Ontology, source: str, terms: list[str]) -> str:
    """A markdown table per finding whose two rules differ: the real terms the substring rule catches
    beyond the exact rule (and what those feed by the exact rule), and the exact terms it misses."""
    cov = coverage(ontology, source, terms)
    spec = ontology.source(source)
    catches, misses = substring_catches(ontology, source, terms), substring_misses(ontology, source, terms)
    rows = ["| finding | substrings (paper) | real terms they also catch (exact rule: what the term feeds) "
            "| exact terms they miss |", "|---|---|---|---|"]
    for finding, feed in spec.findings.items():
        if finding not in catches and finding not in misses:
            continue
        caught = "; ".join(f"`{t}` ({', '.join(cov.mapped[t]) if t in cov.mapped else 'unmapped'})"
                           for t in catches.get(finding, [])) or "—"
        missed = ", ".join(f"`{t}`" for t in misses.get(finding, [])) or "—"
        rows.append(f"| {finding} | {', '.join(f'`{s}`' for s in feed.substrings)} | {caught} | {missed} |")
    return "\n".join(rows) + "\n"


def render_docs(text: str, table: str) -> str:
    """``text`` with the block between the markers replaced by ``table``; ValueError without the markers."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"the docs need the markers {BEGIN} and {END} where the table goes")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cxrinit.labels.vocabulary", description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="conf/base/labels.yml", help="the ontology (default: %(default)s)")
    parser.add_argument("--write", metavar="DOC", help="replace the substring table in this markdown file")
    args = parser.parse_args(argv)
    ontology = load_ontology(args.labels)
    terms = reference_terms("padchest")
    cov = coverage(ontology, "padchest", terms)
    print(f"padchest: {len(terms)} real terms: {len(cov.mapped)} mapped, {len(cov.unmapped)} deliberately unmapped, "
          f"{len(cov.neither)} neither {cov.neither or ''}; configured but never used: {cov.unknown or 'none'}")
    table = substring_table(ontology, "padchest", terms)
    if args.write:
        path = Path(args.write)
        path.write_text(render_docs(path.read_text(), table))
        print(f"wrote the substring table into {path}")
    else:
        sys.stdout.write(table)
    return 1 if cov.neither or cov.unknown else 0


if __name__ == "__main__":
    sys.exit(main())

"""``mvaug evaluate pool``: several ``mvaug evaluate`` reports as one sample (issue 18).

One test set of 64 chairs leaves paired intervals about +-0.01 IoU wide, and one training seed of a small
Pix2Vox moves its numbers by as much. Pooling reads the reports' ``per_object.csv`` and ``settings.json``:

* reports of **different data sets** add their objects (an object is a (data set, object) pair);
* reports of **one data set by different networks** are training seeds of one configuration: each object's
  IoU is the mean over those networks, so the interval is over objects with the seeds' noise averaged out.

Every data set must be evaluated by the same networks, with the same conditions and objects, else the mean
would mix seeds unevenly. ``against`` pools a second configuration on the same objects (a baseline), and the
paired differences between the two are reported too, e.g. an augmentation-aware network's generated-4 against
its baseline's single view. Intervals: the percentile bootstrap over objects of ``mvaug evaluate``
(:func:`~mvaug.evaluate.reconstruction.bootstrap_interval`).
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvaug.errors import DataError
from mvaug.evaluate.reconstruction import SETTINGS, SINGLE, ReconEvalConfig, paired_difference, summarise

ADDED = re.compile(r"(generated|retrieved|gt)-[1-9][0-9]*")
"""A condition with K added views."""
TITLE = "# Pooled reconstruction reports"
"""First line of the Markdown that :func:`write_pooled` writes (it replaces only files that begin so)."""


@dataclass(frozen=True)
class PooledReports:
    """The objects of several reports of one configuration, each object's IoU the mean over its networks."""

    records: list[dict]
    """Per object: ``object`` ('DATA:ID'), ``family`` and ``ious`` (condition -> IoU per threshold)."""
    thresholds: tuple[float, ...]
    views: tuple[int, ...]
    conditions: tuple[str, ...]
    data_sets: tuple[str, ...]
    networks: tuple[str, ...]
    """The reconstructors, as the reports name them (path and fingerprint)."""

    def at(self, threshold: float) -> dict[str, dict[str, float]]:
        """Object -> condition -> IoU at ``threshold``."""
        t = self.thresholds.index(threshold)
        return {r["object"]: {c: v[t] for c, v in r["ious"].items()} for r in self.records}

    def config(self, headline_threshold: float, bootstrap: int, seed: int) -> ReconEvalConfig:
        """The :class:`ReconEvalConfig` whose summary and tables describe these records."""
        retrieved = any(c.startswith("retrieved-") for c in self.conditions)
        return ReconEvalConfig(views=self.views, thresholds=self.thresholds, headline_threshold=headline_threshold, bootstrap=bootstrap,
                               seed=seed, retrieve_from="pooled reports" if retrieved else None)


def read_report(folder: str | os.PathLike) -> tuple[dict, list[dict]]:
    """The settings and per-object rows of one ``mvaug evaluate`` report folder: ``(settings, rows)``, each row
    ``{"object", "family", "condition", "ious": {threshold: IoU}}``."""
    folder = Path(folder)
    table, settings_path = folder / "per_object.csv", folder / SETTINGS
    for path in (table, settings_path):
        if not path.is_file():
            raise DataError(f"not an `mvaug evaluate` report folder: no {path.name}", folder)
    try:
        settings = json.loads(settings_path.read_text())
        with table.open(newline="") as handle:
            reader = csv.DictReader(handle)
            columns = [c for c in reader.fieldnames or [] if c.startswith("iou@")]
            if not columns or not {"object", "family", "condition"} <= set(reader.fieldnames or []):
                raise DataError("expected the columns object, family, condition and iou@T of `mvaug evaluate`", table)
            rows = [{"object": r["object"], "family": r["family"], "condition": r["condition"],
                     "ious": {float(c[4:]): float(r[c]) for c in columns}} for r in reader]
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"unreadable report: {err}", folder) from None
    except (ValueError, TypeError, KeyError) as err:
        raise DataError(f"damaged table: {err}", table) from None
    if not isinstance(settings, dict) or not {"data", "recon"} <= set(settings):
        raise DataError("settings without 'data' and 'recon'", settings_path)
    if not rows:
        raise DataError("the table holds no objects", table)
    return settings, rows


def pool_reports(folders: list[str | os.PathLike]) -> PooledReports:
    """Read and pool the report ``folders`` of one configuration (module docstring)."""
    if not folders:
        raise ValueError("no reports to pool")
    cells: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}  # (data, network) -> (object, condition) -> row
    where: dict[tuple[str, str], Path] = {}
    for folder in folders:
        settings, rows = read_report(folder)
        key = (settings["data"], settings["recon"])
        if key in cells:
            raise DataError(f"the same network on the same data as {where[key]}: give each seed's report once", folder)
        cells[key], where[key] = {(row["object"], row["condition"]): row for row in rows}, Path(folder)
    data_sets = tuple(dict.fromkeys(d for d, _ in cells))
    networks = tuple(dict.fromkeys(n for _, n in cells))
    reference = next(iter(cells))
    conditions = tuple(dict.fromkeys(c for _, c in cells[reference]))
    if SINGLE not in conditions or any(c != SINGLE and not ADDED.fullmatch(c) for c in conditions):
        raise DataError(f"conditions {', '.join(conditions)}: not those of `mvaug evaluate` (single, generated-K, retrieved-K, gt-K)", where[reference])
    for data in data_sets:
        missing = [n for n in networks if (data, n) not in cells]
        if missing:
            raise DataError(f"not evaluated by {', '.join(missing)}: pool every test set with the same networks", data)
        first = (data, networks[0])
        for key in [(data, n) for n in networks]:
            found = tuple(dict.fromkeys(c for _, c in cells[key]))
            if found != conditions:
                raise DataError(f"other conditions ({', '.join(found)}) than {where[reference]} ({', '.join(conditions)})", where[key])
            if set(cells[key]) != set(cells[first]):
                raise DataError(f"other objects than {where[first]}, a report of the same data", where[key])
    thresholds = tuple(sorted(next(iter(cells[reference].values()))["ious"]))
    views = tuple(sorted({int(c.rsplit("-", 1)[1]) for c in conditions if c != SINGLE}))
    records = []
    for data in data_sets:
        tables = [cells[(data, n)] for n in networks]
        for name in dict.fromkeys(o for o, _ in tables[0]):
            ious = {c: [float(np.mean([t[(name, c)]["ious"][x] for t in tables])) for x in thresholds] for c in conditions}
            records.append({"object": f"{data}:{name}", "family": tables[0][(name, SINGLE)]["family"], "ious": ious})
    pooled = PooledReports(records, thresholds, views, conditions, data_sets, networks)
    expected = pooled.config(thresholds[0], 1, 0).conditions()
    if set(expected) != set(conditions):
        raise DataError(f"conditions {', '.join(conditions)}; a report of `mvaug evaluate` holds {', '.join(expected)}", where[reference])
    return pooled


def compare(a: PooledReports, b: PooledReports, threshold: float, bootstrap: int, seed: int) -> dict:
    """Paired differences at ``threshold`` between two pooled configurations on the same objects: every common
    condition (A − B), and each one's generated-K against the other's single view."""
    if sorted(r["object"] for r in a.records) != sorted(r["object"] for r in b.records):
        raise DataError(f"the reports of A and B hold other objects ({len(a.records)} against {len(b.records)}): compare them on the same test sets")
    tables = {"A": a.at(threshold), "B": b.at(threshold)}
    objects = list(tables["A"])
    pairs = [("A", c, "B", c) for c in a.conditions if c in b.conditions]
    pairs += [("A", f"generated-{k}", "B", SINGLE) for k in a.views if f"generated-{k}" in a.conditions]
    pairs += [("B", f"generated-{k}", "A", SINGLE) for k in b.views if f"generated-{k}" in b.conditions]
    out = {}
    for first, better, second, worse in pairs:
        diff = np.array([tables[first][o][better] - tables[second][o][worse] for o in objects])
        out[f"{first} {better} - {second} {worse}"] = paired_difference(diff, bootstrap, seed)
    return out


@dataclass
class PooledComparison:
    """:func:`pool_and_compare`'s result: each configuration's reports and summary, and A against B."""

    threshold: float
    bootstrap: int
    seed: int
    pooled: dict[str, PooledReports]
    summaries: dict[str, dict]
    between: dict | None

    def to_json(self) -> dict:
        configurations = {name: {"data_sets": list(p.data_sets), "networks": list(p.networks), **self.summaries[name]}
                          for name, p in self.pooled.items()}
        return {"threshold": self.threshold, "bootstrap": self.bootstrap, "seed": self.seed, "configurations": configurations,
                **({"between": self.between} if self.between is not None else {})}


def pool_and_compare(reports: list, against: list | None = None, threshold: float = 0.3, bootstrap: int = 10000, seed: int = 0) -> PooledComparison:
    """The pooled configuration A (``reports``) and, with ``against``, B and A against B, at IoU ``threshold``."""
    pooled = {"A": pool_reports(reports)} | ({"B": pool_reports(against)} if against else {})
    for p in pooled.values():
        if threshold not in p.thresholds:
            raise DataError(f"no IoU at threshold {threshold:g} in the reports (they hold {', '.join(f'{t:g}' for t in p.thresholds)})")
    summaries = {name: summarise(p.records, p.config(threshold, bootstrap, seed)) for name, p in pooled.items()}
    between = compare(pooled["A"], pooled["B"], threshold, bootstrap, seed) if against else None
    return PooledComparison(threshold, bootstrap, seed, pooled, summaries, between)


def format_pooled(result: PooledComparison) -> str:
    """Markdown: per configuration its sources and the tables of ``mvaug evaluate``, then A against B."""
    from mvaug.evaluate.reconstruction_report import format_differences, format_tables

    lines = [TITLE, ""]
    for name, p in result.pooled.items():
        lines += [f"## {name}: {len(p.records)} objects of {len(p.data_sets)} test set(s), {len(p.networks)} network(s)", ""]
        lines += [f"- test set: {d}" for d in p.data_sets] + [f"- network: {n}" for n in p.networks]
        if len(p.networks) > 1:
            lines.append("- each object's IoU is the mean over the networks (training seeds)")
        lines += ["", format_tables(result.summaries[name], p.config(result.threshold, result.bootstrap, result.seed)), ""]
    if result.between is not None:
        lines += [f"## A against B, paired over the same objects (IoU@{result.threshold:g}), 95% bootstrap interval", "",
                  format_differences(result.between), ""]
    return "\n".join(lines).rstrip() + "\n"


def write_pooled(result: PooledComparison, out: str | os.PathLike, markdown_text: str | None = None) -> tuple[Path, Path]:
    """OUT (Markdown: ``markdown_text``, else :func:`format_pooled` of ``result``) and OUT with suffix .json, written
    atomically; an existing OUT is replaced only when an earlier pool wrote it (its first line is :data:`TITLE`)."""
    from mvaug.io.atomic import atomic_write_text

    markdown = Path(out)
    data = markdown.with_suffix(".json")
    if markdown == data:
        raise DataError("name the Markdown report with another suffix than .json (the JSON goes beside it)", markdown)
    for path in (markdown, data):
        if path.is_dir():
            raise DataError("is a folder; name a file", path)
    if markdown.is_file() and not markdown.read_text(errors="replace").startswith(TITLE):
        raise DataError("exists and was not written by `mvaug evaluate pool`: choose another --out", markdown)
    if data.is_file() and not markdown.is_file():
        raise DataError(f"exists without {markdown.name}: choose another --out", data)
    atomic_write_text(data, json.dumps(result.to_json(), indent=2) + "\n")
    atomic_write_text(markdown, markdown_text if markdown_text is not None else format_pooled(result))
    return markdown, data

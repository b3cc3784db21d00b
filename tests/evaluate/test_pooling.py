import json

import numpy as np
import pytest
from click.testing import CliRunner

from mvaug.errors import DataError
from mvaug.evaluate.pooling import TITLE, format_pooled, pool_and_compare, pool_reports, write_pooled
from mvaug.evaluate.reconstruction import ReconEvalConfig, bootstrap_interval
from mvaug.evaluate.reconstruction_report import per_object_csv

CONFIG = ReconEvalConfig(views=(1, 4), retrieve_from="training data")
FAMILIES = ("bench", "stool", "office")


def _records(objects: int, seed: int) -> list[dict]:
    """Random IoUs per object, condition and threshold, as `mvaug evaluate` records them."""
    rng = np.random.default_rng(seed)
    return [{"object": f"synth-{k:05d}", "family": FAMILIES[k % 3],
             "ious": {c: rng.uniform(0.2, 0.8, len(CONFIG.thresholds)).tolist() for c in CONFIG.conditions()}} for k in range(objects)]


def _report(folder, data: str, network: str, records: list[dict]):
    """A report folder with the files pooling reads, written by `mvaug evaluate`'s own CSV writer."""
    folder.mkdir(parents=True)
    (folder / "per_object.csv").write_text(per_object_csv(records, CONFIG))
    (folder / "settings.json").write_text(json.dumps({"data": data, "recon": network, "run": "disentangler"}))
    return folder


@pytest.fixture
def reports(tmp_path):
    """Two test sets (5 and 3 objects) evaluated by two networks of configuration A and one of B."""
    sizes = {"/data/T1": 5, "/data/T2": 3}
    made = {}
    for name, networks in (("A", ("/runs/a1 sha256:1", "/runs/a2 sha256:2")), ("B", ("/runs/b1 sha256:3",))):
        for n, network in enumerate(networks):
            for t, (data, size) in enumerate(sizes.items()):
                records = _records(size, seed=100 * len(made) + 1)
                made[(name, n, t)] = (_report(tmp_path / f"{name}{n}_{t}", data, network, records), records)
    return made


def _headline(records: list[dict], condition: str) -> np.ndarray:
    return np.array([r["ious"][condition][CONFIG.thresholds.index(0.3)] for r in records])


def test_pooled_objects_are_the_mean_over_networks_and_the_union_over_test_sets(reports):
    folders = [reports[("A", n, t)][0] for n in (0, 1) for t in (0, 1)]
    pooled = pool_reports(folders)
    assert len(pooled.records) == 8 and pooled.data_sets == ("/data/T1", "/data/T2") and len(pooled.networks) == 2
    assert pooled.views == (1, 4) and pooled.thresholds == CONFIG.thresholds
    # naive reference: per test set, the two networks' IoUs averaged object by object
    naive = {c: np.concatenate([(_headline(reports[("A", 0, t)][1], c) + _headline(reports[("A", 1, t)][1], c)) / 2 for t in (0, 1)])
             for c in CONFIG.conditions()}
    for c in CONFIG.conditions():
        np.testing.assert_allclose(_headline(pooled.records, c), naive[c], atol=1e-6)
    result = pool_and_compare(folders, bootstrap=500, seed=3)
    diff = naive["generated-4"] - naive["retrieved-4"]
    paired = result.summaries["A"]["paired"]["generated-4 - retrieved-4"]
    assert paired["mean"] == pytest.approx(diff.mean(), abs=1e-6)
    assert paired["ci95"] == pytest.approx(list(bootstrap_interval(diff, 500, 3)), abs=1e-6)
    assert result.summaries["A"]["by_family"]["bench"]["n"] == 3  # objects 0 and 3 of T1, 0 of T2


def test_against_pairs_the_configurations_object_by_object(reports):
    a = [reports[("A", n, t)][0] for n in (0, 1) for t in (0, 1)]
    b = [reports[("B", 0, t)][0] for t in (0, 1)]
    result = pool_and_compare(a, b, bootstrap=300)
    mean_a = np.concatenate([(_headline(reports[("A", 0, t)][1], "generated-4") + _headline(reports[("A", 1, t)][1], "generated-4")) / 2 for t in (0, 1)])
    single_b = np.concatenate([_headline(reports[("B", 0, t)][1], "single") for t in (0, 1)])
    assert result.between["A generated-4 - B single"]["mean"] == pytest.approx((mean_a - single_b).mean(), abs=1e-6)
    assert result.between["A generated-4 - B generated-4"]["ci95"][0] <= result.between["A generated-4 - B generated-4"]["mean"]
    assert "B generated-1 - A single" in result.between
    text = format_pooled(result)
    assert text.startswith(TITLE) and "## B: 8 objects of 2 test set(s), 1 network(s)" in text and "| A generated-4 - B single |" in text
    with pytest.raises(DataError, match="other objects"):
        pool_and_compare(a, b[:1])  # B on one test set only


def test_uneven_or_duplicated_reports_are_refused(reports, tmp_path):
    a = {key: folder for key, (folder, _) in reports.items() if key[0] == "A"}
    with pytest.raises(DataError, match="not evaluated by /runs/a2"):
        pool_reports([a[("A", 0, 0)], a[("A", 0, 1)], a[("A", 1, 0)]])  # T2 lacks the second network
    with pytest.raises(DataError, match="each seed's report once"):
        pool_reports([a[("A", 0, 0)], a[("A", 0, 0)]])
    fewer = _report(tmp_path / "fewer", "/data/T1", "/runs/a2 sha256:2", _records(4, seed=9))
    with pytest.raises(DataError, match="other objects than") as err:
        pool_reports([a[("A", 0, 0)], fewer])
    assert str(fewer) in str(err.value)
    (empty := tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no per_object.csv") as err:
        pool_reports([empty])
    assert str(empty) in str(err.value)
    damaged = _report(tmp_path / "damaged", "/data/T1", "/runs/x", _records(2, seed=1))
    (damaged / "per_object.csv").write_text("object,family,condition,iou@0.3\nsynth-0,bench,single,not-a-number\n")
    with pytest.raises(DataError, match="damaged table"):
        pool_reports([damaged])
    renamed = _report(tmp_path / "renamed", "/data/T1", "/runs/x", _records(2, seed=1))
    (renamed / "per_object.csv").write_text((renamed / "per_object.csv").read_text().replace("generated-4", "generated-four"))
    with pytest.raises(DataError, match="not those of `mvaug evaluate`"):
        pool_reports([renamed])
    with pytest.raises(DataError, match="no IoU at threshold 0.35"):
        pool_and_compare([a[("A", 0, 0)]], threshold=0.35)


def test_written_tables_replace_only_their_own_file(reports, tmp_path):
    folders = [reports[("A", 0, t)][0] for t in (0, 1)]
    result = pool_and_compare(folders, bootstrap=200)
    markdown, data = write_pooled(result, tmp_path / "pooled.md")
    stored = json.loads(data.read_text())
    assert stored["configurations"]["A"]["objects"] == 8 and markdown.read_text() == format_pooled(result)
    write_pooled(result, markdown)  # its own file: replaced
    other = tmp_path / "notes.md"
    other.write_text("# my notes\n")
    with pytest.raises(DataError, match="not written by `mvaug evaluate pool`"):
        write_pooled(result, other)
    assert other.read_text() == "# my notes\n" and not other.with_suffix(".json").exists()


def test_cli_prints_and_writes_the_pooled_tables(reports, tmp_path):
    from mvaug.cli.main import cli

    args = ["evaluate", "pool", *(str(reports[("A", n, 0)][0]) for n in (0, 1)), "--against", str(reports[("B", 0, 0)][0]),
            "--bootstrap", "200", "--out", str(tmp_path / "t.md")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "each object's IoU is the mean over the networks" in result.output and (tmp_path / "t.json").is_file()
    missing = CliRunner().invoke(cli, ["evaluate", "pool", str(tmp_path)])
    assert missing.exit_code == 2 and "no per_object.csv" in missing.output and "Traceback" not in missing.output

"""Reading a face set: the disentangler's index and MVF-Net's (front, left, right) triplets."""

import json
import shutil

import numpy as np
import pytest
import torch

from mvaug.errors import DataError
from mvaug.faces.dataset import FaceTripletDataset, index_face_set, nearest_view
from mvaug.faces.synth import MANIFEST


def test_index_lists_every_view_of_the_split(face_set):
    splits = json.loads((face_set / "split.json").read_text())
    paths, views, identities = index_face_set(face_set, "all")
    assert len(paths) == 3 * 6 and all(p.is_file() for p in paths)
    assert views == list(range(6)) * 3 and identities == [0] * 6 + [1] * 6 + [2] * 6
    paths, views, identities = index_face_set(face_set, "test")
    (test_name,) = splits["test"]
    assert set(identities) == {int(test_name[-5:])} and all(p.parent.name == test_name for p in paths)
    with pytest.raises(DataError, match="unknown split 'dev'"):
        index_face_set(face_set, "dev")


def test_unfinished_or_missing_sets_are_refused(face_set, tmp_path):
    with pytest.raises(DataError, match="manifest"):
        index_face_set(tmp_path, "train")
    copy = tmp_path / "copy"
    shutil.copytree(face_set, copy)
    manifest = json.loads((copy / MANIFEST).read_text())
    (copy / MANIFEST).write_text(json.dumps({**manifest, "complete": False}))
    with pytest.raises(DataError, match="unfinished"):
        index_face_set(copy, "train")


def test_triplets_pick_front_left_right_and_scale_annotations(face_set):
    full = FaceTripletDataset(face_set, "all")
    assert len(full) == 3 and full.view_indices == [1, 0, 2]  # yaw 0, -45, +45 at pitch 0
    item = full[1]
    assert item["images"].shape == (3, 3, 32, 32) and item["views"].tolist() == [1, 0, 2]
    assert item["landmarks"].shape == (3, 68, 2) and item["identity"].item() == 1
    half = FaceTripletDataset(face_set, "all", image_size=16)[1]
    assert half["images"].shape == (3, 3, 16, 16)
    torch.testing.assert_close(half["landmarks"], item["landmarks"] / 2)
    torch.testing.assert_close(half["scale"], item["scale"] / 2)
    torch.testing.assert_close(half["id_coef"], item["id_coef"])
    up = FaceTripletDataset(face_set, "all", pitch=12.0)
    assert up.view_indices == [4, 3, 5]


def test_nearest_view_and_a_damaged_annotation(face_set, tmp_path):
    grid = [{"yaw": y, "pitch": p} for p in (0.0, 15.0) for y in (-45.0, 0.0, 45.0)]
    assert nearest_view(grid, 30.0, 0.0) == 2 and nearest_view(grid, -50.0, 20.0) == 3
    copy = tmp_path / "copy"
    shutil.copytree(face_set, copy)
    path = copy / "annotations" / "face-00002.json"
    record = json.loads(path.read_text())
    del record["exp_coef"]
    path.write_text(json.dumps(record))
    with pytest.raises(DataError, match="exp_coef") as err:
        FaceTripletDataset(copy, "all")
    assert "face-00002.json" in str(err.value)
    np.testing.assert_array_equal(FaceTripletDataset(face_set, "all").records[2]["id_coef"].shape, (36,))

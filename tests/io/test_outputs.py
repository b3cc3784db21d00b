import os

import pytest

from mvaug.errors import DataError
from mvaug.io.outputs import check_output_folder, check_outputs, output_set, same_file


def test_same_file_by_path_and_by_inode(tmp_path):
    image = tmp_path / "chair.png"
    image.write_bytes(b"png")
    (tmp_path / "sub").mkdir()
    assert same_file(tmp_path / "sub" / ".." / "chair.png", image)
    assert same_file(tmp_path / "new.obj", tmp_path / "sub" / ".." / "new.obj")  # neither exists
    os.link(image, tmp_path / "link.png")
    assert same_file(tmp_path / "link.png", image)
    assert not same_file(tmp_path / "chair.obj", image)


def test_check_outputs_refuses_an_input_a_folder_a_path_below_a_file_and_an_existing_file(tmp_path):
    image = tmp_path / "chair.png"
    image.write_bytes(b"png")
    (tmp_path / "folder.obj").mkdir()
    (tmp_path / "old.npy").write_bytes(b"keep")
    check_outputs([tmp_path / "chair.obj", tmp_path / "new" / "chair.obj"], [image])
    cases = {
        tmp_path / "chair.png": "overwrite the input",
        tmp_path / "folder.obj": "existing folder",
        image / "x.obj": "is a file",
        tmp_path / "old.npy": "--overwrite",
    }
    for output, message in cases.items():
        with pytest.raises(DataError, match=message) as err:
            check_outputs([tmp_path / "fine.obj", output], [image])
        assert err.value.path == str(output)
    check_outputs([tmp_path / "old.npy"], [image], overwrite=True)
    with pytest.raises(DataError, match="overwrite the input"):
        check_outputs([image], [image], overwrite=True)


def test_check_output_folder_allows_new_empty_and_own_folders_only(tmp_path):
    def is_ours(folder):
        return (folder / "settings.json").is_file()

    check_output_folder(tmp_path / "new", is_ours, "a report")
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / ".DS_Store").write_bytes(b"")
    check_output_folder(tmp_path / "hidden", is_ours, "a report")
    other = tmp_path / "other"
    other.mkdir()
    for name in ("report.md", "summary.json", "notes.txt", "z.png"):
        (other / name).write_text("mine")
    with pytest.raises(DataError, match=r"not empty \(notes.txt, report.md, summary.json, ...\) and is not a report") as err:
        check_output_folder(other, is_ours, "a report")
    assert err.value.path == str(other)
    (other / "settings.json").write_text("{}")
    check_output_folder(other, is_ours, "a report")
    with pytest.raises(DataError, match="is a file"):
        check_output_folder(other / "notes.txt", is_ours, "a report")
    with pytest.raises(DataError, match="is a file"):
        check_output_folder(other / "notes.txt" / "deeper", is_ours, "a report")


def test_output_set_replaces_every_target_at_once(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    with output_set({".txt": tmp_path / "a.txt", ".obj": tmp_path / "sub" / "a.obj"}) as temp:
        assert temp[".obj"].suffix == ".obj" and temp[".obj"].parent == tmp_path / "sub"
        temp[".txt"].write_text("new a")
        temp[".obj"].write_text("mesh")
        assert (tmp_path / "a.txt").read_text() == "old a"  # nothing is replaced before the block ends
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "sub" / "a.obj").read_text() == "mesh"
    assert (tmp_path / "sub" / "a.obj").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.obj", "a.txt", "sub"]


def test_a_failure_in_the_middle_of_a_set_touches_no_target(tmp_path):
    (tmp_path / "out.binvox").write_bytes(b"old grid")
    targets = {suffix: tmp_path / f"out{suffix}" for suffix in (".binvox", ".npy", ".obj")}
    with pytest.raises(RuntimeError, match="mesher crashed"), output_set(targets) as temp:
        temp[".binvox"].write_bytes(b"new grid")
        temp[".npy"].write_bytes(b"new array")
        raise RuntimeError("mesher crashed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.binvox"]
    assert (tmp_path / "out.binvox").read_bytes() == b"old grid"

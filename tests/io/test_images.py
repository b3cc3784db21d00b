"""read_image: sizes are checked from the header, before any pixel is decoded."""

import os
import time

import numpy as np
import pytest

from mvaug.errors import DataError
from mvaug.io.images import MAX_PIXELS, read_image, write_png
from tests.conftest import png_bytes


def test_a_decompression_bomb_is_refused_at_once_by_name(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bytes(20000, 20000))  # 400 megapixels in about 50 KB
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(DataError, match="refused") as info:
        read_image(bomb)
    assert info.value.path == str(bomb)


def test_an_image_above_the_pixel_cap_is_refused_before_decoding(tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(png_bytes(12000, 12000))  # below PIL's bomb limit, above ours
    assert 12000 * 12000 > MAX_PIXELS
    start = time.perf_counter()
    with pytest.raises(DataError, match="12000 x 12000 pixels is more than"):
        read_image(big)
    assert time.perf_counter() - start < 1.0  # decoding would take seconds and gigabytes


def test_min_side_refuses_a_one_pixel_image_and_keeps_larger_ones(tmp_path):
    write_png(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8))
    write_png(tmp_path / "ok.png", np.zeros((16, 20, 3), np.uint8))
    assert read_image(tmp_path / "dot.png", "RGB").shape == (1, 1, 3)  # the default asks for nothing
    with pytest.raises(DataError, match="1 x 1 pixels; at least 16 x 16"):
        read_image(tmp_path / "dot.png", "RGB", min_side=16)
    assert read_image(tmp_path / "ok.png", "RGB", min_side=16).shape == (16, 20, 3)


def test_a_symlink_loop_and_a_folder_are_named(tmp_path):
    os.symlink("loop.png", tmp_path / "loop.png")
    with pytest.raises(DataError, match="loops back on itself") as info:
        read_image(tmp_path / "loop.png")
    assert info.value.path == str(tmp_path / "loop.png")
    with pytest.raises(DataError, match="found a folder"):
        read_image(tmp_path)

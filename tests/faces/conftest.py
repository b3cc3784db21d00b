"""A tiny synthetic face set shared by the synth and dataset tests."""

from pathlib import Path

import pytest

from mvaug.faces.synth import SynthFacesConfig, synthesize_faces

SMALL = SynthFacesConfig(identities=3, size=32, seed=5, yaws=(-45.0, 0.0, 45.0), pitches=(0.0, 15.0), split=(0.34, 0.33, 0.33))


@pytest.fixture(scope="session")
def face_config() -> SynthFacesConfig:
    """3 identities x (3 yaws x 2 pitches) at 32 px."""
    return SMALL


@pytest.fixture(scope="session")
def face_set(tmp_path_factory, face_config) -> Path:
    root = tmp_path_factory.mktemp("faces") / "set"
    synthesize_faces(root, face_config, workers=1, progress=False)
    return root

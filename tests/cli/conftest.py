"""Fixtures shared by the CLI tests."""

from __future__ import annotations

from typing import Callable

import pytest
from click.testing import Result


@pytest.fixture
def assert_input_error() -> Callable[..., None]:
    """``check(result, *names)``: exit status 2 and one line, without a traceback, naming every item of ``names``."""

    def check(result: Result, *names: object) -> None:
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
        for name in names:
            assert str(name) in lines[0]

    return check

"""YAML errors name the file, line and column, whatever kind of error they are."""

from __future__ import annotations

import pytest

from bot.core.problems import InvalidInput
from bot.core.yaml_source import compose


def test_a_control_character_is_reported_with_its_line_and_column() -> None:
    with pytest.raises(InvalidInput) as raised:
        compose("title: ok\nname: bad\x07value\n", "programme.yaml")
    [problem] = raised.value.problems
    assert problem.where == "programme.yaml:2:10"
    assert "'\\x07' is not allowed" in problem.what


def test_a_syntax_error_is_reported_with_its_line_and_column() -> None:
    with pytest.raises(InvalidInput) as raised:
        compose("items: [one, two\nnext: 1\n", "bank.yaml")
    assert raised.value.problems[0].where.startswith("bank.yaml:")
    assert raised.value.problems[0].what.startswith("not valid YAML")

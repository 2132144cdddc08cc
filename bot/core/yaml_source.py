"""Compose YAML text into a node tree that keeps positions, and name places as file:line:column.

Parsers read nodes rather than plain data so that every problem can point at the line and
column a value stands on.
"""

from __future__ import annotations

import yaml

from bot.core.problems import InvalidInput, Problem


def position(source: str, mark: yaml.Mark) -> str:
    """Return ``source:line:column`` for a mark, counting lines and columns from 1."""
    return f"{source}:{mark.line + 1}:{mark.column + 1}"


def locate(source: str, node: yaml.Node) -> str:
    """Return ``source:line:column`` of where `node` starts."""
    return position(source, node.start_mark)


def compose(text: str, source: str) -> yaml.Node | None:
    """Return the root node of `text` (None when it holds no document).

    Raise InvalidInput naming ``source:line:column`` when the text is not valid YAML.
    """
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = position(source, mark) if mark else source
        raise InvalidInput([Problem(where, f"not valid YAML: {error.problem}")]) from None
    except yaml.reader.ReaderError as error:
        # A character YAML forbids (e.g. a control character pasted from a document).
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        char = error.character if isinstance(error.character, str) else chr(error.character)
        what = f"not valid YAML: character {char!r} is not allowed in a YAML file"
        raise InvalidInput([Problem(f"{source}:{line}:{column}", what)]) from None

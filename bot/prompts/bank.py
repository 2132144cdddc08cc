"""Load the bank of reflection prompts and pulse items shipped as per-locale YAML files.

Each file is read as a YAML node tree (not plain data) so that every problem can name
the file and line it sits on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import yaml

from bot.core.problems import InvalidInput, Problem
from bot.core.vocabulary import PulseItemKind
from bot.core.yaml_source import compose, locate

BANK_FOLDER = Path(__file__).resolve().parent
# Bokmål is written first and carries the structure (themes, kinds, option keys);
# English is required as the fallback; nynorsk may fall back to bokmål.
STRUCTURE_LOCALE = "nb"
REQUIRED_LOCALES = ("nb", "en")
BANK_LOCALES = ("nb", "en", "nn")
THEMES = ("listening", "engaging", "getting-things-done", "wellbeing")
CHOICE_KINDS = frozenset({PulseItemKind.SINGLE.value, PulseItemKind.MULTI.value})
KINDS = tuple(kind.value for kind in PulseItemKind)
PROMPT_FIELDS = {"theme", "text", "follow_up"}
PULSE_ITEM_FIELDS = {"kind", "text", "options"}

T = TypeVar("T")


@dataclass(frozen=True)
class BankPrompt:
    """A reflection question with its deepening follow-up, keyed by locale."""

    key: str
    theme: str
    text: Mapping[str, str]
    follow_up: Mapping[str, str] | None


@dataclass(frozen=True)
class BankOption:
    """One choice of a single- or multi-choice pulse item."""

    key: str
    text: Mapping[str, str]


@dataclass(frozen=True)
class BankPulseItem:
    """A pulse question; `kind` is one of likert, scale, single, multi, text."""

    key: str
    kind: str
    text: Mapping[str, str]
    options: tuple[BankOption, ...]


@dataclass(frozen=True)
class PromptBank:
    """Every reflection prompt and pulse item of the bank, with the theme keys in order."""

    reflections: Mapping[str, BankPrompt]
    pulse_items: Mapping[str, BankPulseItem]
    themes: tuple[str, ...]
    # Theme key -> locale -> display name, e.g. "listening" -> {"nb": "Lytte og forstå"}.
    theme_titles: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({})
    )


def localized(texts: Mapping[str, str], locale: str) -> str:
    """Return the text for `locale`, else bokmål, else English, else the first one."""
    for candidate in (locale, "nb", "en"):
        text = texts.get(candidate)
        if text:
            return text
    return next(iter(texts.values()), "")


def load_bank(folder: Path | None = None) -> PromptBank:
    """Return the validated bank from `folder` (cached when reading the shipped bank)."""
    if folder is None:
        return _shipped_bank()
    return _read_bank(folder)


@lru_cache(maxsize=1)
def _shipped_bank() -> PromptBank:
    return _read_bank(BANK_FOLDER)


# --- reading -------------------------------------------------------------------------------


@dataclass
class _Reader:
    """Collect problems while walking YAML nodes, naming file:line:column for each."""

    problems: list[Problem] = field(default_factory=list)
    # id(value node) -> its key node, so a problem with a whole entry points at the entry's key.
    key_of: dict[int, yaml.Node] = field(default_factory=dict)

    def fail(self, path: Path, node: yaml.Node | None, what: str) -> None:
        if isinstance(node, yaml.CollectionNode):
            node = self.entry_node(node)
        problem = Problem(str(path) if node is None else locate(str(path), node), what)
        # A node may be walked once for structure and once for text; report it once.
        if problem not in self.problems:
            self.problems.append(problem)

    def entry_node(self, value_node: yaml.Node) -> yaml.Node:
        """Return the key node of a mapping entry's value, so problems point at the entry."""
        return self.key_of.get(id(value_node), value_node)

    def compose(self, path: Path) -> yaml.MappingNode | None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            self.problems.append(Problem(str(path), f"cannot read the file ({exc.strerror})"))
            return None
        try:
            root = compose(text, str(path))
        except InvalidInput as invalid:
            self.problems.extend(invalid.problems)
            return None
        if not isinstance(root, yaml.MappingNode):
            self.fail(path, root, "expected a mapping at the top of the file")
            return None
        return root

    def mapping(self, path: Path, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        """Return the entries of a mapping node by key; report duplicates and non-mappings."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(path, node, f"expected a mapping of {what}")
            return {}
        entries: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or not key.strip():
                self.fail(path, key_node, f"expected a text key in {what}")
            elif key in entries:
                self.fail(path, key_node, f"duplicate key {key!r} in {what}")
            else:
                entries[key] = value_node
                self.key_of[id(value_node)] = key_node
        return entries

    def text(self, path: Path, node: yaml.Node, what: str) -> str | None:
        """Return the non-empty text of a scalar node, or report why it is not one."""
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.fail(path, node, f"expected text for {what}")
            return None
        value = " ".join(str(node.value).split())
        if not value:
            self.fail(path, node, f"{what} is empty")
            return None
        return value


@dataclass
class _LocaleFile:
    """The parsed sections of one locale's file, with the nodes kept for line numbers."""

    path: Path
    root: yaml.MappingNode
    sections: dict[str, yaml.Node]


# Reads one entry (a prompt or an item) from its bokmål node and every locale's entries.
_EntryReader = Callable[
    [_Reader, Mapping[str, _LocaleFile], Mapping[str, Mapping[str, yaml.Node]], str, yaml.Node],
    T | None,
]


def _read_bank(folder: Path) -> PromptBank:
    reader = _Reader()
    reflection_files = _read_locale_files(reader, folder, "reflections")
    pulse_files = _read_locale_files(reader, folder, "pulse_items")
    titles = _read_theme_titles(reader, reflection_files)
    reflections = _read_entries(reader, reflection_files, "prompts", "prompt", _read_prompt)
    pulse_items = _read_entries(reader, pulse_files, "items", "pulse item", _read_pulse_item)
    if reader.problems:
        raise InvalidInput(reader.problems)
    return PromptBank(
        reflections=MappingProxyType(reflections),
        pulse_items=MappingProxyType(pulse_items),
        themes=THEMES,
        theme_titles=MappingProxyType(titles),
    )


def _read_locale_files(reader: _Reader, folder: Path, stem: str) -> dict[str, _LocaleFile]:
    files: dict[str, _LocaleFile] = {}
    for locale in BANK_LOCALES:
        path = folder / f"{stem}.{locale}.yaml"
        if not path.exists():
            if locale in REQUIRED_LOCALES:
                reader.problems.append(Problem(str(path), "required bank file is missing"))
            continue
        root = reader.compose(path)
        if root is not None:
            sections = reader.mapping(path, root, "sections")
            files[locale] = _LocaleFile(path, root, sections)
    return files


def _section(
    reader: _Reader, file: _LocaleFile, name: str, *, required: bool
) -> dict[str, yaml.Node]:
    node = file.sections.get(name)
    if node is None:
        if required:
            reader.fail(file.path, file.root, f"missing section {name!r}")
        return {}
    return reader.mapping(file.path, node, name)


def _read_entries(
    reader: _Reader,
    files: Mapping[str, _LocaleFile],
    section: str,
    what: str,
    read_entry: _EntryReader[T],
) -> dict[str, T]:
    """Return the entries of `section` by bokmål key, each read across every locale's file."""
    if STRUCTURE_LOCALE not in files:
        return {}
    per_locale = {
        locale: _section(reader, file, section, required=True) for locale, file in files.items()
    }
    _check_same_keys(reader, files, per_locale, section, what)
    entries: dict[str, T] = {}
    for key, node in per_locale[STRUCTURE_LOCALE].items():
        entry = read_entry(reader, files, per_locale, key, node)
        if entry is not None:
            entries[key] = entry
    return entries


def _read_theme_titles(
    reader: _Reader, files: Mapping[str, _LocaleFile]
) -> dict[str, Mapping[str, str]]:
    titles: dict[str, dict[str, str]] = {theme: {} for theme in THEMES}
    for locale, file in files.items():
        required = locale == STRUCTURE_LOCALE
        entries = _section(reader, file, "themes", required=required)
        for key, node in entries.items():
            if key not in THEMES:
                reader.fail(file.path, node, f"unknown theme {key!r}; expected one of {THEMES}")
                continue
            title = reader.text(file.path, node, f"the title of theme {key!r}")
            if title is not None:
                titles[key][locale] = title
        if required:
            for theme in THEMES:
                if theme not in entries:
                    where = file.sections.get("themes", file.root)
                    reader.fail(file.path, where, f"missing the title of theme {theme!r}")
    return {theme: MappingProxyType(texts) for theme, texts in titles.items()}


def _read_prompt(
    reader: _Reader,
    files: Mapping[str, _LocaleFile],
    per_locale: Mapping[str, Mapping[str, yaml.Node]],
    key: str,
    node: yaml.Node,
) -> BankPrompt | None:
    path = files[STRUCTURE_LOCALE].path
    what = f"prompt {key!r}"
    theme = _read_choice(
        reader, path, node, reader.mapping(path, node, what), what, "theme", THEMES
    )
    texts: dict[str, str] = {}
    follow_ups: dict[str, str] = {}
    for locale, entries in per_locale.items():
        if key in entries:
            locale_path = files[locale].path
            _read_prompt_texts(reader, locale_path, entries[key], key, locale, texts, follow_ups)
    for locale in REQUIRED_LOCALES:
        entry = per_locale.get(locale, {}).get(key)
        # A follow-up in any locale needs one in every required locale, or some leaders miss it.
        if follow_ups and locale not in follow_ups and entry is not None:
            reader.fail(files[locale].path, entry, f"prompt {key!r} has no follow_up")
    if theme is None:
        return None
    return BankPrompt(
        key=key,
        theme=theme,
        text=MappingProxyType(texts),
        follow_up=MappingProxyType(follow_ups) if follow_ups else None,
    )


def _read_prompt_texts(
    reader: _Reader,
    path: Path,
    node: yaml.Node,
    key: str,
    locale: str,
    texts: dict[str, str],
    follow_ups: dict[str, str],
) -> None:
    fields = _read_locale_entry(reader, path, node, f"prompt {key!r}", PROMPT_FIELDS, locale, texts)
    follow_node = fields.get("follow_up")
    if follow_node is not None:
        follow_up = reader.text(path, follow_node, f"the follow-up of prompt {key!r}")
        if follow_up is not None:
            follow_ups[locale] = follow_up


def _check_same_keys(
    reader: _Reader,
    files: Mapping[str, _LocaleFile],
    per_locale: Mapping[str, Mapping[str, yaml.Node]],
    section_name: str,
    what: str,
) -> None:
    """Report keys missing from a required locale, and keys no bokmål entry defines."""
    structure = per_locale.get(STRUCTURE_LOCALE, {})
    for locale, entries in per_locale.items():
        file = files[locale]
        section = file.sections.get(section_name, file.root)
        for key, defined in structure.items():
            if key not in entries and locale in REQUIRED_LOCALES:
                origin = f"{files[STRUCTURE_LOCALE].path.name}:{_line_of(reader, defined)}"
                reader.fail(file.path, section, f"missing {what} {key!r} (defined at {origin})")
        for key, node in entries.items():
            if key not in structure:
                reader.fail(file.path, node, f"{what} {key!r} is not in the bokmål file")


def _line_of(reader: _Reader, node: yaml.Node) -> int:
    return reader.entry_node(node).start_mark.line + 1


def _read_pulse_item(
    reader: _Reader,
    files: Mapping[str, _LocaleFile],
    per_locale: Mapping[str, Mapping[str, yaml.Node]],
    key: str,
    node: yaml.Node,
) -> BankPulseItem | None:
    path = files[STRUCTURE_LOCALE].path
    what = f"pulse item {key!r}"
    kind = _read_choice(reader, path, node, reader.mapping(path, node, what), what, "kind", KINDS)
    texts: dict[str, str] = {}
    options: dict[str, dict[str, str]] = {}
    # Bokmål comes first in `per_locale`, so its option keys fix the order and the set.
    for locale, entries in per_locale.items():
        if key in entries:
            _read_item_locale(reader, files[locale].path, entries[key], key, locale, texts, options)
    if kind is None:
        return None
    if kind in CHOICE_KINDS and len(options) < 2:
        reader.fail(path, node, f"{kind} item {key!r} needs at least two options")
    if kind not in CHOICE_KINDS and options:
        reader.fail(path, node, f"{kind} item {key!r} takes no options")
    for option_key, option_texts in options.items():
        for locale in REQUIRED_LOCALES:
            if locale in per_locale and key in per_locale[locale] and locale not in option_texts:
                where = per_locale[locale][key]
                reader.fail(files[locale].path, where, f"{key!r} lacks option {option_key!r}")
    return BankPulseItem(
        key=key,
        kind=kind,
        text=MappingProxyType(texts),
        options=tuple(
            BankOption(option_key, MappingProxyType(option_texts))
            for option_key, option_texts in options.items()
        ),
    )


def _read_item_locale(
    reader: _Reader,
    path: Path,
    node: yaml.Node,
    key: str,
    locale: str,
    texts: dict[str, str],
    options: dict[str, dict[str, str]],
) -> None:
    what = f"pulse item {key!r}"
    fields = _read_locale_entry(reader, path, node, what, PULSE_ITEM_FIELDS, locale, texts)
    options_node = fields.get("options")
    if options_node is None:
        return
    for option_key, option_node in reader.mapping(
        path, options_node, f"options of {key!r}"
    ).items():
        if locale != STRUCTURE_LOCALE and option_key not in options:
            reader.fail(
                path,
                reader.entry_node(option_node),
                f"option {option_key!r} of {key!r} is not in bokmål",
            )
            continue
        option_text = reader.text(path, option_node, f"option {option_key!r} of {key!r}")
        options.setdefault(option_key, {})
        if option_text is not None:
            options[option_key][locale] = option_text


def _known_fields(
    reader: _Reader, path: Path, node: yaml.Node, what: str, allowed: set[str]
) -> dict[str, yaml.Node]:
    """Return the fields of a mapping node, reporting any not in `allowed`."""
    fields = reader.mapping(path, node, what)
    for name, field_node in fields.items():
        if name not in allowed:
            reader.fail(path, reader.entry_node(field_node), f"unknown field {name!r} in {what}")
    return fields


def _read_locale_entry(
    reader: _Reader,
    path: Path,
    node: yaml.Node,
    what: str,
    allowed: set[str],
    locale: str,
    texts: dict[str, str],
) -> dict[str, yaml.Node]:
    """Return the fields of one locale's entry, putting its required text in `texts`."""
    fields = _known_fields(reader, path, node, what, allowed)
    text = _required_text(reader, path, node, fields, "text", what)
    if text is not None:
        texts[locale] = text
    return fields


def _read_choice(
    reader: _Reader,
    path: Path,
    node: yaml.Node,
    fields: Mapping[str, yaml.Node],
    what: str,
    name: str,
    allowed: tuple[str, ...],
) -> str | None:
    """Return the required field `name` of entry `what` when it is one of `allowed`."""
    value = _required_text(reader, path, node, fields, name, what)
    if value is not None and value not in allowed:
        reader.fail(path, fields[name], f"unknown {name} {value!r}; expected one of {allowed}")
        return None
    return value


def _required_text(
    reader: _Reader,
    path: Path,
    node: yaml.Node,
    fields: Mapping[str, yaml.Node],
    name: str,
    what: str,
) -> str | None:
    """Return the text of the required field `name` of entry `what`, or report it missing."""
    value_node = fields.get(name)
    if value_node is None:
        reader.fail(path, node, f"{what} has no {name}")
        return None
    return reader.text(path, value_node, f"the {name} of {what}")

"""Every configuration key of the schema is documented in config/README.md, in its section."""

import re

import yaml

from conftest import REPO

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
README = REPO / "config/README.md"


def schema_keys(node: dict, path: tuple = ()) -> list[tuple]:
    """Dotted key paths of the schema. Items of a list of objects contribute their keys under the list's key
    (``enrichment.sources.gmt``); the free-named entries of a mapping (``resources.<kind>``) are ``<kind>``."""
    keys = []
    for name, sub in node.get("properties", {}).items():
        keys.append(path + (name,))
        keys += schema_keys(sub, path + (name,))
    if isinstance(node.get("additionalProperties"), dict):
        keys += schema_keys(node["additionalProperties"], path + ("<kind>",))
    if isinstance(node.get("items"), dict):
        keys += schema_keys(node["items"], path)
    for combined in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(combined, []):
            keys += schema_keys(sub, path)
    return list(dict.fromkeys(keys))


def sections(text: str) -> dict[tuple, str]:
    """{key path of a heading: its text up to the next heading of the same or a higher level} for headings that
    name a key in backticks (``## `dataset` ``, ``### `dataset.synthetic`: ...``); ``()``: the text before the
    first of them (the top-level keys)."""
    headings = [(match.start(), len(match.group(1)), tuple(match.group(2).split(".")))
                for match in re.finditer(r"^(#{2,4}) `([\w.]+)`", text, re.M)]
    all_headings = [(match.start(), len(match.group(1))) for match in re.finditer(r"^(#{1,4}) ", text, re.M)]
    found = {(): text[:headings[0][0]] if headings else text}  # the introduction and "## Top level"
    for start, level, key in headings:
        end = next((s for s, lvl in all_headings if s > start and lvl <= level), len(text))
        found[key] = text[start:end]
    return found


def _spans(line: str) -> list[str]:
    return re.findall(r"`([^`]+)`", line)


def documented(path: tuple, docs: dict[tuple, str]) -> bool:
    """Whether ``path`` is named in the section of its deepest documented prefix: as its dotted path relative to
    the section (inside a backticked span), or by its leaf on a line that also names its parent key."""
    if "training" in path[1:-1]:  # overrides of `training` take its keys: documented there
        path = path[path.index("training", 1):]
    prefix = max((key for key in docs if path[:len(key)] == key), key=len)
    relative = path[len(prefix):]
    if not relative:
        return True  # the section heading names it
    words = lambda text: re.escape(text).join([r"(?<![\w.<])", r"(?![\w>])"])  # noqa: E731 (a whole word)
    for line in docs[prefix].splitlines():
        spans = _spans(line)
        if any(re.search(words(".".join(relative)), span) for span in spans):
            return True
        parent_named = len(relative) == 1 or any(re.search(words(".".join(relative[:-1])), span) for span in spans)
        if parent_named and any(re.search(words(relative[-1]), span) for span in spans):
            return True
    return False


def test_every_schema_key_is_documented_in_config_readme():
    docs = sections(README.read_text())
    keys = schema_keys(yaml.safe_load(SCHEMA.read_text()))
    assert len(keys) > 150  # the walk reaches the nested keys
    missing = [".".join(path) for path in keys if not documented(path, docs)]
    assert not missing, f"config/README.md does not document: {missing}"


def test_the_check_finds_an_undocumented_key():
    docs = sections(README.read_text())
    assert documented(("dataset", "synthetic", "n_genes"), docs)
    assert documented(("sweeps", "regularisation", "folds"), docs)  # "| `regularisation.genes`, `folds` |"
    assert not documented(("dataset", "synthetic", "no_such_knob"), docs)
    assert not documented(("classification", "svm", "folds"), docs)  # a word used elsewhere, not under svm
    assert not documented(("no_such_section", "seed"), docs)

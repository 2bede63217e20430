"""Figure helpers shared by every figure module: a consistent style, colour-blind-safe palettes, labels that stay
distinct and fit, and atomic PNG + SVG output."""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterable, Sequence

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window (headless cluster nodes)
import matplotlib.pyplot as plt  # noqa: E402

from cic.io import atomic_path  # noqa: E402

plt.rcParams.update({
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 8,
    "svg.hashsalt": "cic-workflow",  # stable SVG element ids, so re-rendering gives the same file
})

# Okabe & Ito (2008), "Color Universal Design": eight colours that stay apart for the common colour-vision
# deficiencies (unlike tab10/tab20). Black last: it is the one that reads as "no category".
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
BLUE, ORANGE, GREEN, PINK, SKY, VERMILLION, YELLOW, BLACK = OKABE_ITO
# Beyond eight categories colour alone cannot keep them apart: each further block of eight gets its own marker
# (scatter plots) or line style (curves), so 30 types are 8 colours x 4 shapes.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINE_STYLES = ("-", "--", ":", "-.")
MIN_FONT_PT = 5.5  # the smallest text any figure sets; below that print and screens at 100 % cannot be read


def save_figure(fig, png_path: str | os.PathLike, svg_path: str | os.PathLike | None = None, *,
                layout: bool = True) -> None:
    """Save ``fig`` as PNG (and SVG) atomically, then close it. ``layout``: tight layout first, unless the figure
    has its own layout engine; False for figures placed by hand (the networks, whose labels are placed in pixels)."""
    if layout and fig.get_layout_engine() is None:
        fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    if svg_path is not None:
        with atomic_path(svg_path) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None})
    plt.close(fig)


def category_styles(names: Iterable) -> dict[str, dict]:
    """A fixed colour and marker per category (cell type), over the sorted names, so every figure draws a type
    the same way: Okabe-Ito colours; the marker changes every eight categories. Values are ``scatter`` keywords
    (``color``, ``marker``)."""
    ordered = sorted(set(map(str, names)))
    return {name: {"color": OKABE_ITO[i % len(OKABE_ITO)], "marker": MARKERS[(i // len(OKABE_ITO)) % len(MARKERS)]}
            for i, name in enumerate(ordered)}


def line_styles(n: int) -> list[dict]:
    """``n`` distinct (colour, line style) pairs for curves, in order: Okabe-Ito colours, the style changing every
    eight lines. Values are ``plot``/``errorbar`` keywords."""
    return [{"color": OKABE_ITO[i % len(OKABE_ITO)], "linestyle": LINE_STYLES[(i // len(OKABE_ITO)) % len(LINE_STYLES)]}
            for i in range(n)]


def scaled_font(n_items: int, largest: float = 9.0, smallest: float = MIN_FONT_PT, per_step: float = 0.15) -> float:
    """Font size (pt) for labels of ``n_items`` categories: ``largest`` up to 10 items, then smaller by
    ``per_step`` per extra item, never below ``smallest``."""
    return float(min(largest, max(smallest, largest - per_step * max(0, n_items - 10))))


# --------------------------------------------------------------------------------------------------------------
# Labels

TERM_ID = re.compile(r"\s*\(([A-Za-z][\w.-]*:[\w.-]+)\)\s*$")  # "name (GO:0002474)" -> "GO:0002474"
ELLIPSIS = "…"
KEPT_START_WORDS = 2  # a shortened name keeps its first words (the kind of term) even when other names share them


def split_term_id(name: str) -> tuple[str, str]:
    """``"antigen processing … (GO:0002474)"`` -> (name without the id, ``"GO:0002474"``); ("name", "") if none."""
    match = TERM_ID.search(name)
    return (name[:match.start()], match.group(1)) if match else (name, "")


def wrap_text(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, broken at spaces and hyphens (inside a word only when it is longer
    than a line); nothing is left out."""
    return textwrap.wrap(str(text), width=max(1, width), break_long_words=True, break_on_hyphens=True) or [str(text)]


def wrap_label(text: str, width: int) -> str:
    """``text`` wrapped over lines of ``width`` characters, nothing left out (cell types, sample ids, titles)."""
    return "\n".join(wrap_text(text, width))


def display_labels(names: Sequence, width: int = 24, max_lines: int | None = None) -> list[str]:
    """Labels for ``names`` that fit ``max_lines`` lines of ``width`` characters and stay distinct.

    For gene-set terms, cell types and programs of any length: underscores read as spaces; a name longer than
    ``max_lines`` lines keeps its start and its end, with "…" for the middle it drops, and ends with its term id
    (``"name (GO:0002474)"`` as in the GO GMTs). When two labels would read the same, the term id is added; without
    one, the words the names share at the start give way to the words that differ, then the whole name is shown.
    Distinct names never get the same label; equal names (one term from two sources) are numbered.
    ``max_lines=None`` only wraps. The full names stay in the tables and the network exports: this is for drawing.
    """
    parts = [split_term_id(str(name).replace("_", " ")) for name in names]
    shared = _shared_with_others([text.split() for text, _ in parts])
    labels = [_fit(text, term_id, width, max_lines, skip=skip) for (text, term_id), skip in zip(parts, shared)]
    for group in _collisions(labels):
        for i in group:
            text, term_id = parts[i]
            if term_id:
                labels[i] = _fit(text, term_id, width, max_lines, with_id=True, skip=shared[i])
            else:  # what the group's names share at their start gives way to what differs
                common = _shared_prefix([parts[j][0].split() for j in group])
                labels[i] = _fit(" ".join([ELLIPSIS] + text.split()[common:]), "", width, max_lines) if common \
                    else _join(wrap_text(text, width), "", width)
    for group in _collisions(labels):  # they differ only in the middle: the whole name
        for i in group:
            labels[i] = _join(wrap_text(parts[i][0], width), parts[i][1], width)
    while collisions := _collisions(labels):  # the same name twice
        for group in collisions:
            for number, i in enumerate(group, start=1):
                labels[i] = f"{labels[i]} ({number})"
    return labels


def _fit(text: str, term_id: str, width: int, max_lines: int | None, with_id: bool = False, skip: int = 0) -> str:
    """``text`` in at most ``max_lines`` lines: whole if it fits, else its start + "…" + its end and the term id;
    the ``skip`` words it shares at its start with other names of the figure go first (after its first two)."""
    whole = _join(wrap_text(text, width), term_id if with_id else "", width)
    if max_lines is None or whole.count("\n") < max_lines:
        return whole
    words = text.split()
    # The start says what kind of term it is, the end which one: keep about a line of the start (only its first
    # words when other names of the figure share more of it) and as much of the end as the lines hold.
    head = words[:KEPT_START_WORDS] if skip > KEPT_START_WORDS else \
        wrap_text(text, width if max_lines > 1 else width // 2)[0].split()
    for n_tail in range(len(words) - len(head) - 1, 0, -1):
        shown = _join(wrap_text(" ".join(head + [ELLIPSIS] + words[-n_tail:]), width), term_id, width)
        if shown.count("\n") < max_lines:
            return shown
    for n_head in range(len(head), 0, -1):
        shown = _join(wrap_text(" ".join(words[:n_head] + [ELLIPSIS]), width), term_id, width)
        if shown.count("\n") < max_lines:
            return shown
    return _join([text[:max(1, width - 1)] + ELLIPSIS], term_id, width)


def _join(lines: list[str], term_id: str, width: int) -> str:
    """Lines joined, the term id appended to the last line when it fits there, else on a line of its own."""
    if not term_id:
        return "\n".join(lines)
    tagged = f"({term_id})"
    if len(lines[-1]) + 1 + len(tagged) <= width:
        return "\n".join(lines[:-1] + [f"{lines[-1]} {tagged}"])
    return "\n".join(lines + [tagged])


def _collisions(labels: list[str]) -> list[list[int]]:
    where: dict[str, list[int]] = {}
    for index, label in enumerate(labels):
        where.setdefault(label, []).append(index)
    return [group for group in where.values() if len(group) > 1]


def _shared_with_others(words: list[list[str]]) -> list[int]:
    """Per name, how many words it shares at its start with the most similar other name."""
    order = sorted(range(len(words)), key=lambda i: words[i])
    shared = [0] * len(words)
    for before, after in zip(order, order[1:]):  # in sorted order the most similar name is a neighbour
        common = _shared_prefix([words[before], words[after]])
        shared[before], shared[after] = max(shared[before], common), max(shared[after], common)
    return shared


def _shared_prefix(words: list[list[str]]) -> int:
    """How many words all the names start with (at least one word of each is left)."""
    shared = 0
    while all(len(own) > shared + 1 for own in words) and len({own[shared] for own in words}) == 1:
        shared += 1
    return shared


def wrap_to_width(text: str, inches: float, fontsize: float) -> str:
    """``text`` wrapped to lines that fit ``inches`` at ``fontsize`` pt (an average character is ~0.6 em wide), for
    titles and captions whose names (cell types, sample ids, sources) can be any length."""
    return "\n".join(wrap_label(line, int(inches * 72 / (0.6 * fontsize))) for line in str(text).split("\n"))

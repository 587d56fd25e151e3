"""The Markdown card an export writes beside its files (pure): what the labels mean, how many
clips per split and category, how much of the data is events, and the annotators' agreement."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

LABEL_DEFINITION = (
    "Each clip is 10 one-second segments. Segment t is labelled 1 (an audio-visual event) when "
    "the clip's category is both heard and seen during second [t, t+1); otherwise 0 "
    "(background). The category is one per clip."
)
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


class LabelledClip(Protocol):
    """What the card reads of an exported clip (the store's curated rows have it)."""

    @property
    def split(self) -> str | None: ...
    @property
    def category(self) -> str | None: ...
    @property
    def segments(self) -> str: ...


def _agreement_lines(agreement: dict[str, Any] | None) -> list[str]:
    if agreement and agreement.get("n_pairs"):
        return [
            f"Independent re-checks: {agreement['n_pairs']} clips. Per-second agreement "
            f"{agreement['percent_agreement']:.1f} %, Cohen's kappa {agreement['kappa']:.3f}; "
            f"category agreement {agreement['category_agreement']:.1f} %.",
        ]
    return ["No independent re-checks recorded."]


def render_dataset_card(
    rows: Sequence[LabelledClip], labels: str, fmt: str, agreement: dict[str, Any] | None
) -> str:
    """The card of an export of ``rows`` in ``fmt`` from ``labels`` labels; ``agreement`` is
    the QC report's overall figures (``None`` for list labels)."""
    by_split = Counter(r.split or "-" for r in rows)
    by_cat: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        by_cat[r.category or "-"][r.split or "-"] += 1
    splits = sorted(by_split, key=lambda s: SPLIT_ORDER.get(s, 3))
    event_share = sum(r.segments.count("1") for r in rows) / max(1, 10 * len(rows))
    lines = [
        "# Dataset card",
        "",
        f"Exported by avel-annotate as `{fmt}` from {labels} labels: {len(rows)} clips, "
        f"{100 * event_share:.1f} % of seconds are events.",
        "",
        "## Label definition",
        "",
        LABEL_DEFINITION,
        "",
        "## Clips per split",
        "",
        "| split | clips |",
        "|---|---|",
        *[f"| {s} | {by_split[s]} |" for s in splits],
        "",
        "## Clips per category and split",
        "",
        "| category | " + " | ".join(splits) + " |",
        "|---|" + "---|" * len(splits),
        *[
            f"| {c} | " + " | ".join(str(by_cat[c][s]) for s in splits) + " |"
            for c in sorted(by_cat)
        ],
        "",
        "## Annotation agreement",
        "",
        *_agreement_lines(agreement),
    ]
    return "\n".join(lines) + "\n"

"""`avel report`: one self-contained HTML page about the dataset and the models."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from avel_annotate import __version__, fileio
from avel_annotate.config import Settings
from avel_annotate.domain import report_html as html
from avel_annotate.domain.report_figures import MIME_BY_SUFFIX, figure_section
from avel_annotate.errors import ConfigError
from avel_annotate.store import models as mq
from avel_annotate.store import report as q
from avel_annotate.store.database import Session, Store
from avel_annotate.store.engine import safe_url
from avel_annotate.store.tables import ModelVersion


@dataclass(frozen=True)
class ReportSummary:
    out: str
    clips: int
    model_versions: int
    sections: int


def _fig_row(name: str, f: Any) -> tuple[object, ...]:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    kappa = "-" if f.kappa is None else f"{f.kappa:.3f}"
    return (name, f.n_pairs, pct(f.percent_agreement), kappa, pct(f.category_agreement))


def _qc_sections(store: Store, progress: dict[str, int]) -> list[str]:
    """Annotation progress, agreement with the pairs behind each figure, open disagreements."""
    from avel_annotate.services.gold import html_sections as gold_sections
    from avel_annotate.services.qc import qc_report

    r = qc_report(store)
    steps = {**progress, "re-checked": r.rechecked}
    order = ("pushed", "labelled", "drawn", "re-checked", "curated")
    by_category = {
        f"{cat} ({fig.n_pairs} pairs)": round(fig.percent_agreement, 1)
        for cat, fig in r.per_category.items()
        if fig.percent_agreement is not None
    }
    cols = ["who", "pairs", "seconds %", "kappa", "category %"]
    return [
        html.table("Annotation progress (clips)", list(order), [[steps[k] for k in order]]),
        html.bar_chart(
            "Per-second agreement of re-checks, by category", {"agreement": by_category}, unit=" %"
        ),
        html.table(
            "Agreement of re-checks: all, and per annotator (pairs they took part in)",
            cols,
            [_fig_row("all", r.overall)]
            + [_fig_row(who, f) for who, f in sorted(r.per_annotator.items())],
        ),
        html.table(
            f"Disagreements ({sum(d.status in ('open', 'third_pass') for d in r.disagreements)} "
            f"open, {len(r.disagreements)} in all)",
            ["clip", "status", "seconds differing", "categories", "next step"],
            [
                (
                    d.clip_id,
                    d.status,
                    " ".join(d.differing_second_names) or "none",
                    f"{d.first_category or '-'} / {d.second_category or '-'}",
                    d.next_step,
                )
                for d in r.disagreements
            ],
        ),
        html.table(
            "Model against curated labels, per model version",
            ["model version", "clips", "seconds %", "kappa", "category %"],
            [_fig_row(v, f) for v, f in sorted(r.model_vs_human.items())],
        ),
        *(gold_sections(r.gold) if r.gold is not None else []),
    ]


def _pick_metrics(metrics: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    for key in ("test", "val"):
        if isinstance(metrics.get(key), dict) and metrics[key].get("confusion"):
            return key, metrics[key]
    for key, value in metrics.items():
        if isinstance(value, dict) and value.get("confusion"):
            return key, value
    return None


def _figures(paths: Sequence[Path]) -> list[str]:
    """``avel report --figure``: each SVG/PNG file as an embedded section (e.g. the loop
    benchmark's plot, benchmarks/results/loop.svg)."""
    out = []
    for path in paths:
        mime = MIME_BY_SUFFIX.get(path.suffix.lower())
        if mime is None:
            raise ConfigError(f"{path}: a figure must be an .svg or .png file", "pass a plot file")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ConfigError(
                f"{path}: cannot read the figure: {e.strerror}", "check the path"
            ) from e
        out.append(figure_section(f"Figure: {path.name}", mime, data, str(path)))
    return out


@dataclass
class _Facts:
    """Everything the page shows that comes from the store, read in one unit of work."""

    per_split: dict[str, dict[str, int]]
    outcomes: dict[str, int]
    progress: dict[str, int]
    random_files: int
    versions: list[ModelVersion]
    default: ModelVersion | None
    timeline: list[dict[str, object]] = field(default_factory=list)

    @property
    def clip_total(self) -> int:
        return sum(sum(c.values()) for c in self.per_split.values())


def _read_facts(session: Session) -> _Facts:
    versions = mq.all_versions(session)
    default = mq.default_version(session) or (versions[-1] if versions else None)
    facts = _Facts(
        per_split=q.category_split_counts(session),
        outcomes=q.fetch_outcomes(session),
        progress=q.annotation_progress(session),
        random_files=q.random_feature_files(session),
        versions=versions,
        default=default,
        timeline=q.timeline_rows(session, default.id) if default else [],
    )
    for t in facts.timeline:
        t["model"] = default.name if default else ""
    return facts


def _warnings(facts: _Facts) -> list[str]:
    warnings = []
    if facts.random_files:
        warnings.append(
            f"{facts.random_files} feature file(s) were extracted with RANDOM weights: they carry "
            "no meaning; re-extract with the pretrained weights"
        )
    random_models = [
        v.name for v in facts.versions if json.loads(v.data_snapshot or "{}").get("random_features")
    ]
    if random_models:
        warnings.append(
            f"Model version(s) {', '.join(random_models)} were trained on random-weight "
            "features: a demonstration, not a model"
        )
    return warnings


def _clip_chart(per_split: dict[str, dict[str, int]]) -> str:
    categories = {cat for c in per_split.values() for cat in c}
    top = sorted(categories, key=lambda c: -sum(per_split[s].get(c, 0) for s in per_split))[:40]
    return html.bar_chart(
        f"Clips per category and split (top {len(top)} of {len(categories)})",
        {s: {c: per_split[s][c] for c in top if c in per_split[s]} for s in sorted(per_split)},
    )


def _version_row(v: ModelVersion) -> tuple[object, ...]:
    snapshot = json.loads(v.data_snapshot or "{}")
    return (
        v.name,
        "yes" if v.is_default else "",
        v.variant or v.source,
        v.created_at.isoformat(timespec="minutes"),
        ", ".join(f"{k}={n}" for k, n in snapshot.items() if k.endswith("clips")),
    )


def _model_sections(facts: _Facts) -> list[str]:
    """Accuracy per version, the versions table, the default's confusion matrix."""
    accuracy = {
        key: {
            v.name: round(100 * m[key]["accuracy"], 2)
            for v in facts.versions
            if isinstance((m := json.loads(v.metrics or "{}")).get(key), dict)
            and m[key].get("accuracy") is not None
        }
        for key in ("val", "test")
    }
    default = facts.default
    picked = _pick_metrics(json.loads(default.metrics or "{}")) if default else None
    names = [*json.loads(default.categories), "background"] if default else []
    return [
        html.bar_chart("Segment accuracy per model version", accuracy, unit=" %"),
        html.table(
            "Model versions",
            ["name", "default", "kind", "created", "data"],
            [_version_row(v) for v in facts.versions],
        ),
        html.confusion_matrix(
            f"Confusion matrix: {default.name if default else '-'} on "
            f"{picked[0] if picked else '-'}",
            names,
            picked[1]["confusion"] if picked else [],
        ),
    ]


def write_report(
    store: Store, settings: Settings, out: Path | None = None, figures: Sequence[Path] = ()
) -> ReportSummary:
    """Render the page from the store and write it atomically (default
    ``<data-dir>/report.html``)."""
    out = out or settings.data_dir / "report.html"
    extra = _figures(figures)
    with store.session() as session:
        facts = _read_facts(session)
    sections = [
        *[html.warning(w) for w in _warnings(facts)],
        _clip_chart(facts.per_split),
        html.bar_chart("Fetch outcomes", {"clips": facts.outcomes}),
        *_qc_sections(store, facts.progress),
        *_model_sections(facts),
        html.timelines(
            "Labels (curated, else the list's) against the model's event probabilities",
            facts.timeline,
        ),
        *extra,
    ]
    subtitle = (
        f"{facts.clip_total} clips; store {safe_url(settings.db_url)}; generated "
        f"{datetime.now(UTC).isoformat(timespec='seconds')} by avel-annotate {__version__}"
    )
    fileio.write_text(out, html.page("avel-annotate report", subtitle, sections))
    return ReportSummary(str(out), facts.clip_total, len(facts.versions), len(sections))

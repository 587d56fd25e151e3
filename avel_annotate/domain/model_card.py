"""The Markdown card of a model version, rendered from its config and metrics (pure).

A card is what a reader of ``<models-dir>/<name>/card.md`` sees first: how the version was made
(architecture, stages, device, data), how well it did on its validation clips, which checkpoint
is the registered one, and its categories in class-index order.
"""

from __future__ import annotations

import json
from typing import Any


def _stage_table(stage_best: dict[str, dict[str, Any]]) -> list[str]:
    if not stage_best:
        return []
    return [
        "Best validation checkpoint of each stage (files under run/):",
        "",
        "| stage | epoch | val segment accuracy | file |",
        "|---|---|---|---|",
        *(
            f"| {st} | {b['epoch']} | {b['val_accuracy']:.4f} | run/best-{st}.pt |"
            for st, b in stage_best.items()
        ),
        "",
    ]


def render_card(
    name: str, config: dict[str, Any], metrics: dict[str, Any], tool_version: str
) -> str:
    """The card of version ``name``. ``config`` is its ``config.json`` (model, train, data,
    categories, created_at, device), ``metrics`` its ``metrics.json`` (empty for an import)."""
    snap = config["data"]
    model = config["model"]
    val = metrics.get("val", {})
    lines = [
        f"# Model card: {name}",
        "",
        f"- Created: {config['created_at']} with avel-annotate {tool_version}",
        f"- Architecture: CPSP, {model['head']} head, {model['setting']} supervision, "
        f"tau {model['tau']}, C = {model['n_categories']}",
        f"- Training stages: {', '.join(config['train']['stages'])}; "
        f"seed {config['train']['seed']}",
        f"- Trained on: {config.get('device', 'unknown')}",
        f"- Data: {json.dumps(snap, sort_keys=True)}",
        f"- Validation segment accuracy: {val.get('accuracy', float('nan')):.4f}",
        f"- Registered checkpoint: the best of the last stage run, {metrics.get('best_stage')} "
        f"epoch {metrics.get('best_epoch')}",
        "",
        *_stage_table(metrics.get("stage_best") or {}),
    ]
    if snap.get("random_features"):
        lines += ["**Trained on features from random weights: a demonstration, not a model.**", ""]
    lines += ["Categories (class index order):", ""]
    lines += [f"{i}. {c}" for i, c in enumerate(config["categories"])]
    return "\n".join(lines) + "\n"

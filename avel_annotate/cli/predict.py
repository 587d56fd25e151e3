"""`avel predict`."""

from __future__ import annotations

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import kv
from avel_annotate.domain.device import DEVICE_HELP
from avel_annotate.services import predict as service


def _view(report: service.PredictReport) -> None:
    kv(f"predictions of {report.model}", report.__dict__)


def predict(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Version (default: the default)."),
    split: str | None = typer.Option(None, "--split", help="Only clips of this split."),
    limit: int | None = typer.Option(None, "--limit", min=1),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP + " Env: AVEL_DEVICE."),
    features: str | None = typer.Option(None, "--features", help="Feature kind in the store."),
    allow_random: bool = typer.Option(False, "--allow-random-features"),
    json_out: bool = JSON,
) -> None:
    """Pre-label clips: per-second event probabilities, category, 0/1 labels, confidence."""
    e = env(ctx)
    report = service.predict(
        e.store,
        e.settings,
        model,
        split=split,
        limit=limit,
        device=device or e.settings.device,
        features=features,
        allow_random_features=allow_random,
    )
    e.out(json_out).show(report, _view)

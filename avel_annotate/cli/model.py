"""`avel train`, `avel evaluate`, `avel model import-official|default`, `avel models list`."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import emit_json, kv, line, rows
from avel_annotate.domain.device import DEVICE_HELP
from avel_annotate.services import models

app = typer.Typer(help="Register models: import official checkpoints, choose the default.")
models_app = typer.Typer(help="List registered model versions.")


def train(
    ctx: typer.Context,
    split: str = typer.Option("train", "--split", help="Split to train on."),
    val_split: str = typer.Option("val", "--val-split", help="Split for model selection."),
    setting: str = typer.Option("fully", "--setting", help="fully | weakly supervised."),
    head: str = typer.Option("event-category", "--head", help="event-category | paper."),
    weak_loss: str = typer.Option(
        "bce", "--weak-loss", help="Weakly head loss: bce (Eq. 13) | multilabel-soft-margin."
    ),
    stages: str = typer.Option("psp,psa_s,psa_v", "--stages", help="Comma-separated stages."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Stage-1 epochs (45)."),
    stage2_epochs: int | None = typer.Option(None, "--stage2-epochs", min=0),
    batch_size: int = typer.Option(128, "--batch-size", min=1),
    seed: int = typer.Option(0, "--seed"),
    bf16: bool = typer.Option(False, "--bf16", help="bfloat16 autocast (fast on AMX CPUs)."),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP + " Env: AVEL_DEVICE."),
    name: str | None = typer.Option(None, "--name", help="Version name (default cpsp-<time>)."),
    from_ave_h5: Path | None = typer.Option(
        None, "--from-ave-h5", help="Train on the authors' AVE feature release in this folder."
    ),
    features: str | None = typer.Option(None, "--features", help="Feature kind in the store."),
    labels: str = typer.Option("curated", "--labels", help="curated | list (the list's labels)."),
    allow_random: bool = typer.Option(False, "--allow-random-features"),
    no_default: bool = typer.Option(False, "--no-default", help="Do not make it the default."),
    feature_cache: bool = typer.Option(
        True, "--feature-cache/--no-feature-cache", help="Read features from a packed cache."
    ),
    json_out: bool = JSON,
) -> None:
    """Train CPSP (stage 1 PSP, stage 2 PSA_S then PSA_V) and register a model version."""
    e = env(ctx)
    settings = e.settings

    def on_epoch(rec: models.EpochRecord) -> None:
        if not (e.out(json_out).json):
            loss = rec.losses.get("total", sum(rec.losses.values()))
            star = " *" if rec.best else ""
            line(
                f"{rec.stage} epoch {rec.epoch}: loss {loss:.4f}, val acc {rec.val_accuracy:.4f}"
                f"{star}"
            )

    report = models.train_model(
        settings,
        name=name,
        split=split,
        val_split=val_split,
        setting=setting,
        head=head,
        stages=tuple(s.strip() for s in stages.split(",") if s.strip()),
        epochs=epochs,
        stage2_epochs=stage2_epochs,
        batch_size=batch_size,
        seed=seed,
        bf16=bf16,
        from_ave_h5=from_ave_h5,
        features=features,
        labels=labels,
        allow_random_features=allow_random,
        make_default=not no_default,
        on_epoch=on_epoch,
        device=device or settings.device,
        weak_loss=weak_loss,
        feature_cache=feature_cache,
    )
    if e.out(json_out).json:
        emit_json(report)
        return
    kv(
        f"model version {report.name}",
        {
            "folder": report.path,
            "train / val clips": f"{report.n_train} / {report.n_val}",
            "categories": report.n_categories,
            "best": f"{report.best_stage} epoch {report.best_epoch} (the last stage's best)",
            "stage bests": ", ".join(
                f"{st} epoch {b['epoch']} {b['val_accuracy']:.4f}"
                for st, b in report.stage_best.items()
            ),
            "val segment accuracy": f"{report.best_val_accuracy:.4f}",
            "previous default": report.previous,
            "previous val accuracy": report.previous_val_accuracy,
            "default now": report.is_default,
            "seconds": report.seconds,
            "device": report.device,
        },
    )


def evaluate(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Version (default: the default)."),
    split: str = typer.Option("test", "--split"),
    from_ave_h5: Path | None = typer.Option(None, "--from-ave-h5"),
    features: str | None = typer.Option(None, "--features"),
    labels: str = typer.Option("curated", "--labels", help="curated | list."),
    allow_random: bool = typer.Option(False, "--allow-random-features"),
    json_out: bool = JSON,
) -> None:
    """Segment accuracy, per-class accuracy, D_ae/D_bg, event F1, confusion matrix."""
    e = env(ctx)
    settings = e.settings
    report = models.evaluate_model(
        settings,
        model,
        split,
        from_ave_h5=from_ave_h5,
        features=features,
        labels=labels,
        allow_random_features=allow_random,
    )
    if e.out(json_out).json:
        emit_json(report)
        return
    m = report.metrics
    kv(
        f"{report.model} on {report.split} ({report.n_clips} clips)",
        {
            k: (f"{v:.4f}" if isinstance(v, float) else v)
            for k, v in m.items()
            if not isinstance(v, dict | list)
        },
    )
    line(f"saved to {report.saved_to}")


@app.command("import-official")
def import_official(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="The authors' checkpoint (.pt / .pth state_dict)."),
    variant: str = typer.Option(..., "--variant", help="cpsp-fully | cpsp-weakly | psp-fully"),
    name: str = typer.Option(..., "--name", help="Version name to register."),
    categories: Path | None = typer.Option(
        None, "--categories", help="Class names, one per line (default: the store's)."
    ),
    no_default: bool = typer.Option(False, "--no-default"),
    json_out: bool = JSON,
) -> None:
    """Register an official CPSP/PSP checkpoint as a model version."""
    e = env(ctx)
    settings = e.settings
    report = models.import_official(
        settings, path, variant, name, categories_file=categories, make_default=not no_default
    )
    if e.out(json_out).json:
        emit_json(report)
    else:
        kv(f"imported {report.variant} as {report.name}", report.__dict__)


@app.command("default")
def set_default(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Make a version the default for pre-labelling."""
    info = models.set_default_version(env(ctx).settings, name)
    line(f"default model: {info.name}")


@models_app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON) -> None:
    """Versions with their data snapshot, metrics and which is the default."""
    e = env(ctx)
    settings = e.settings
    versions = models.list_versions(settings)
    if e.out(json_out).json:
        emit_json(versions)
        return
    rows(
        f"{len(versions)} model version(s)",
        ["name", "default", "source", "created", "data", "val acc", "test acc"],
        [
            (
                v.name,
                "*" if v.is_default else "",
                v.variant or v.source,
                v.created_at,
                ", ".join(
                    f"{k}={val}" for k, val in v.data_snapshot.items() if k.endswith("clips")
                ),
                _acc(v.metrics.get("val")),
                _acc(v.metrics.get("test")),
            )
            for v in versions
        ],
    )


def _acc(metrics: object) -> str:
    if isinstance(metrics, dict) and isinstance(metrics.get("accuracy"), float):
        return f"{metrics['accuracy']:.4f}"
    return "-"

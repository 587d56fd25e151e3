"""`avel train` and `avel evaluate` (registered by ``cli.main`` through ``cli.model``)."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import kv, line
from avel_annotate.domain.device import DEVICE_HELP
from avel_annotate.services.evaluation import EvalOptions, EvalReport, evaluate_model
from avel_annotate.services.training import EpochRecord, TrainOptions, TrainReport, train_model

D = TrainOptions  # the defaults of every option below


def _epoch_line(rec: EpochRecord) -> None:
    loss = rec.losses.get("total", sum(rec.losses.values()))
    star = " *" if rec.best else ""
    line(f"{rec.stage} epoch {rec.epoch}: loss {loss:.4f}, val acc {rec.val_accuracy:.4f}{star}")


def _train_view(report: TrainReport) -> None:
    stage_bests = ", ".join(
        f"{st} epoch {b['epoch']} {b['val_accuracy']:.4f}" for st, b in report.stage_best.items()
    )
    kv(
        f"model version {report.name}",
        {
            "folder": report.path,
            "train / val clips": f"{report.n_train} / {report.n_val}",
            "categories": report.n_categories,
            "best": f"{report.best_stage} epoch {report.best_epoch} (the last stage's best)",
            "stage bests": stage_bests,
            "val segment accuracy": f"{report.best_val_accuracy:.4f}",
            "previous default": report.previous,
            "previous val accuracy": report.previous_val_accuracy,
            "default now": report.is_default,
            "seconds": report.seconds,
            "device": report.device,
        },
    )


def train(
    ctx: typer.Context,
    split: str = typer.Option(D.split, "--split", help="Split to train on."),
    val_split: str = typer.Option(D.val_split, "--val-split", help="Split for model selection."),
    setting: str = typer.Option(D.setting, "--setting", help="fully | weakly supervised."),
    head: str = typer.Option(D.head, "--head", help="event-category | paper."),
    weak_loss: str = typer.Option(
        D.weak_loss, "--weak-loss", help="Weakly head loss: bce (Eq. 13) | multilabel-soft-margin."
    ),
    stages: str = typer.Option(",".join(D.stages), "--stages", help="Comma-separated stages."),
    epochs: int | None = typer.Option(D.epochs, "--epochs", min=1, help="Stage-1 epochs (45)."),
    stage2_epochs: int | None = typer.Option(D.stage2_epochs, "--stage2-epochs", min=0),
    batch_size: int = typer.Option(D.batch_size, "--batch-size", min=1),
    seed: int = typer.Option(D.seed, "--seed"),
    bf16: bool = typer.Option(D.bf16, "--bf16", help="bfloat16 autocast (fast on AMX CPUs)."),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP + " Env: AVEL_DEVICE."),
    name: str | None = typer.Option(D.name, "--name", help="Version name (default cpsp-<time>)."),
    from_ave_h5: Path | None = typer.Option(
        D.from_ave_h5,
        "--from-ave-h5",
        help="Train on the authors' AVE feature release in this folder.",
    ),
    features: str | None = typer.Option(
        D.features, "--features", help="Feature kind in the store."
    ),
    labels: str = typer.Option(D.labels, "--labels", help="curated | list (the list's labels)."),
    allow_random: bool = typer.Option(D.allow_random_features, "--allow-random-features"),
    no_default: bool = typer.Option(
        not D.make_default, "--no-default", help="Do not make it the default."
    ),
    feature_cache: bool = typer.Option(
        D.feature_cache,
        "--feature-cache/--no-feature-cache",
        help="Read features from a packed cache.",
    ),
    json_out: bool = JSON,
) -> None:
    """Train CPSP (stage 1 PSP, stage 2 PSA_S then PSA_V) and register a model version."""
    e = env(ctx)
    out = e.out(json_out)
    options = TrainOptions(
        name=name, split=split, val_split=val_split, setting=setting, head=head,
        stages=tuple(s.strip() for s in stages.split(",") if s.strip()), epochs=epochs,
        stage2_epochs=stage2_epochs, batch_size=batch_size, seed=seed, bf16=bf16,
        from_ave_h5=from_ave_h5, features=features, labels=labels,
        allow_random_features=allow_random, make_default=not no_default,
        device=device or e.settings.device, weak_loss=weak_loss, feature_cache=feature_cache,
    )  # fmt: skip
    on_epoch = None if out.json else _epoch_line
    report = train_model(e.store, e.settings, options, on_epoch=on_epoch)
    out.show(report, _train_view)


def _eval_view(report: EvalReport) -> None:
    kv(
        f"{report.model} on {report.split} ({report.n_clips} clips)",
        {
            k: (f"{v:.4f}" if isinstance(v, float) else v)
            for k, v in report.metrics.items()
            if not isinstance(v, dict | list)
        },
    )
    line(f"saved to {report.saved_to}")


def evaluate(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Version (default: the default)."),
    split: str = typer.Option(EvalOptions.split, "--split"),
    from_ave_h5: Path | None = typer.Option(EvalOptions.from_ave_h5, "--from-ave-h5"),
    features: str | None = typer.Option(EvalOptions.features, "--features"),
    labels: str = typer.Option(EvalOptions.labels, "--labels", help="curated | list."),
    allow_random: bool = typer.Option(EvalOptions.allow_random_features, "--allow-random-features"),
    json_out: bool = JSON,
) -> None:
    """Segment accuracy, per-class accuracy, D_ae/D_bg, event F1, confusion matrix."""
    e = env(ctx)
    options = EvalOptions(split=split, from_ave_h5=from_ave_h5, features=features,
                          labels=labels, allow_random_features=allow_random)  # fmt: skip
    report = evaluate_model(e.store, e.settings, model, options)
    e.out(json_out).show(report, _eval_view)

"""`avel model import-official|default` and `avel models list` (and, from ``cli.train``,
`avel train` and `avel evaluate`, which ``cli.main`` registers from here)."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import kv, line, rows
from avel_annotate.cli.train import evaluate as evaluate
from avel_annotate.cli.train import train as train
from avel_annotate.services.evaluation import ImportOfficialReport, import_official
from avel_annotate.services.model_registry import VersionInfo, list_versions, set_default_version

app = typer.Typer(help="Register models: import official checkpoints, choose the default.")
models_app = typer.Typer(help="List registered model versions.")


def _import_view(report: ImportOfficialReport) -> None:
    kv(f"imported {report.variant} as {report.name}", report.__dict__)


@app.command("import-official")
def import_official_(
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
    report = import_official(e.store, e.settings, path, variant, name,
                             categories_file=categories, make_default=not no_default)  # fmt: skip
    e.out(json_out).show(report, _import_view)


@app.command("default")
def set_default(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Make a version the default for pre-labelling."""
    info = set_default_version(env(ctx).store, name)
    line(f"default model: {info.name}")


def _acc(metrics: object) -> str:
    if isinstance(metrics, dict) and isinstance(metrics.get("accuracy"), float):
        return f"{metrics['accuracy']:.4f}"
    return "-"


def _list_view(versions: list[VersionInfo]) -> None:
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


@models_app.command("list")
def list_(ctx: typer.Context, json_out: bool = JSON) -> None:
    """Versions with their data snapshot, metrics and which is the default."""
    e = env(ctx)
    e.out(json_out).show(list_versions(e.store), _list_view)

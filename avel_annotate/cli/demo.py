"""`avel demo`."""

from __future__ import annotations

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import kv, line
from avel_annotate.services.demo import DEMO_CLIPS, DEMO_EPOCHS, DemoReport, run_demo


def demo(
    ctx: typer.Context,
    clips: int = typer.Option(DEMO_CLIPS, "--clips", min=6, max=200, help="How many demo clips."),
    epochs: int = typer.Option(DEMO_EPOCHS, "--epochs", min=1, help="Stage-1 training epochs."),
    no_labelstudio: bool = typer.Option(
        False, "--no-labelstudio", help="Skip starting Label Studio and pushing tasks."
    ),
    json_out: bool = JSON,
) -> None:
    """The whole loop offline on generated clips: fetch, features, train, predict, push, report."""
    e = env(ctx)
    out = e.out(json_out)
    report = run_demo(
        e.store,
        e.settings,
        n_clips=clips,
        epochs=epochs,
        labelstudio=not no_labelstudio,
        say=(lambda _msg: None) if out.json else line,
    )
    out.show(report, _view)


def _view(report: DemoReport) -> None:
    kv(
        "demo finished",
        {
            "data dir": report.data_dir,
            "clips fetched": f"{report.fetched} of {report.clips}",
            "features": report.feature_kind,
            "model": report.model,
            "val segment accuracy": report.val_accuracy,
            "clips pre-labelled": report.predicted,
            "Label Studio": report.labelstudio,
            "report": report.report_path,
            "seconds": report.seconds,
        },
    )

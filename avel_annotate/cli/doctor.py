"""`avel doctor [--json]`: can this machine run the loop? One line per check, the fix beside it."""

from __future__ import annotations

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import rows
from avel_annotate.services import doctor as svc


def doctor(ctx: typer.Context, json_out: bool = JSON) -> None:
    """Check ffmpeg, the JS runtime and EJS, yt-dlp, disk, store, Label Studio, torch, weights."""
    e = env(ctx)
    report = svc.doctor(e.settings)  # never opens the store: it must not create the database
    e.out(json_out).show(report, _view)
    if not report.ok:
        raise typer.Exit(1)


def _view(report: svc.DoctorReport) -> None:
    rows(
        "avel doctor",
        ["check", "ok", "detail", "fix"],
        [(c.name, "ok" if c.ok else "FAIL", c.detail, c.fix or "") for c in report.checks],
    )

"""`avel doctor [--json]`: can this machine run the loop? One line per check, the fix beside it."""

from __future__ import annotations

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import emit_json, rows
from avel_annotate.services import doctor as svc


def doctor(ctx: typer.Context, json_out: bool = JSON) -> None:
    """Check ffmpeg, the JS runtime and EJS, yt-dlp, disk, store, Label Studio, torch, weights."""
    e = env(ctx)
    settings = e.settings
    report = svc.doctor(settings)
    if e.out(json_out).json:
        emit_json({"ok": report.ok, "checks": report.checks})
    else:
        rows(
            "avel doctor",
            ["check", "ok", "detail", "fix"],
            [(c.name, "ok" if c.ok else "FAIL", c.detail, c.fix or "") for c in report.checks],
        )
    if not report.ok:
        raise typer.Exit(1)

"""`avel labelstudio serve`: a local Label Studio for the annotation loop."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.render import emit_json, kv, line
from avel_annotate.config import Settings
from avel_annotate.services import labelstudio

app = typer.Typer(help="A local Label Studio server.")


@app.command("serve")
def serve(
    ctx: typer.Context,
    port: int = typer.Option(8080, "--port", help="Port on 127.0.0.1 (the next free one if busy)."),
    ls_data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Label Studio's own data dir (default <data-dir>/labelstudio)."
    ),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Start Label Studio headless on loopback; save its URL and token to the config file."""
    settings: Settings = ctx.obj

    def ready(report: labelstudio.ServeReport) -> None:
        if settings.json or json_out:
            emit_json(report)
            return
        kv(
            f"Label Studio is running at {report.url}",
            {
                "data dir": report.ls_data_dir,
                "log": report.log_path,
                "admin login": f"{report.admin_email} (password in {report.credentials_path})",
                "token saved to": report.config_path,
                "annotators join at": report.invite_url,
            },
        )
        if not report.url.endswith(f":{report.requested_port}"):
            line(f"port {report.requested_port} was busy; using {report.url}")
        line("Send the invite link to annotators; press Ctrl-C to stop the server.")

    raise typer.Exit(
        labelstudio.serve(settings, port=port, ls_data_dir=ls_data_dir, on_ready=ready)
    )

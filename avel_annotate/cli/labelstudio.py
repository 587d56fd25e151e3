"""`avel labelstudio serve|stop`: a local Label Studio for the annotation loop."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import say
from avel_annotate.services import labelstudio

app = typer.Typer(help="A local Label Studio server.")

LS_DATA_DIR = typer.Option(
    None, "--data-dir", help="Label Studio's own data dir (default <data-dir>/labelstudio)."
)


@app.command("serve")
def serve(
    ctx: typer.Context,
    port: int = typer.Option(
        labelstudio.DEFAULT_PORT, "--port", help="Port to listen on (an error if it is busy)."
    ),
    host: str = typer.Option(
        labelstudio.LOOPBACK,
        "--host",
        help="Address to bind; beyond loopback (e.g. 0.0.0.0) for a team.",
    ),
    ls_data_dir: Path | None = LS_DATA_DIR,
    json_out: bool = JSON,
) -> None:
    """Start Label Studio headless; save its URL and token to the config file. Ctrl-C, SIGTERM
    or SIGHUP stop it with this command."""
    e = env(ctx)
    out = e.out(json_out)

    def ready(report: labelstudio.ServeReport) -> None:
        out.show(report, _ready_view)

    raise typer.Exit(
        labelstudio.serve(e.settings, port=port, ls_data_dir=ls_data_dir, host=host, on_ready=ready)
    )


def _ready_view(report: labelstudio.ServeReport) -> None:
    say(f"Label Studio is running at {report.url} (pid {report.pid})")
    say(f"  data dir: {report.ls_data_dir}")
    say(f"  log: {report.log_path}")
    say(f"  admin login: {report.admin_email} (password in {report.credentials_path})")
    say(f"  token saved to: {report.config_path}")
    say(f"  invite link (also in {report.invite_path}):")
    say(f"{report.invite_url}")
    for warning in report.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    say("Send the invite link to annotators; press Ctrl-C to stop the server.")


@app.command("stop")
def stop(ctx: typer.Context, ls_data_dir: Path | None = LS_DATA_DIR) -> None:
    """Stop the server a `serve` of this data dir left running (e.g. after its terminal died)."""
    stopped = labelstudio.stop_local_server(env(ctx).settings, ls_data_dir)
    if stopped is None:
        say("no Label Studio server is recorded for this data dir")
    elif stopped.was_running:
        say(f"stopped Label Studio (pid {stopped.pid}, port {stopped.port})")
    else:
        say(f"Label Studio (pid {stopped.pid}) had already exited; removed its pid file")

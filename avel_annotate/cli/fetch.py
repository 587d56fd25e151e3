"""`avel fetch [--csv LIST]` and `avel fetch status`."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import counts, err, kv, line, rows
from avel_annotate.services import fetch

app = typer.Typer(help="Download, normalise and verify clips (resumable; the store is the queue).")

D = fetch.FetchOptions  # the defaults, written once there
# the longer options, declared here so the command reads as its list of options
URL_TEMPLATE = typer.Option(
    D.url_template, "--url-template", help="Source URL; {ytid} is replaced."
)
COOKIES_FROM_BROWSER = typer.Option(
    None, "--cookies-from-browser", help="Read cookies from BROWSER[:PROFILE] (firefox...)."
)
PROXY = typer.Option(
    None, "--proxy", help="Proxy URL without a password (else AVEL_PROXY / config.toml)."
)
JS_RUNTIME = typer.Option(
    None, "--js-runtime", help="JS runtime for YouTube: NAME[:PATH] (default: bundled deno)."
)
RATE_LIMIT = typer.Option(
    None, "--rate-limit", min=0.001, help="At most this many downloads started per hour."
)
NO_PREFLIGHT = typer.Option(
    False, "--no-preflight", help="Skip the checks before the first download."
)
PRESET = typer.Option(
    fetch.NormaliseSettings.preset,
    "--encoder-preset",
    help="x264 preset of the normalised mp4 (size vs CPU).",
)


@app.callback(invoke_without_command=True)
def fetch_(
    ctx: typer.Context,
    csv: Path | None = typer.Option(None, "--csv", help="Import this clip list first."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most N clips this run."),
    split: str | None = typer.Option(None, "--split", help="Only clips of this split."),
    label: list[str] = typer.Option([], "--label", help="Only clips of this category (repeat)."),
    workers: int = typer.Option(
        D.workers, "--workers", min=1, max=32, help="Concurrent downloads."
    ),
    url_template: str = URL_TEMPLATE,
    cookies: Path | None = typer.Option(None, "--cookies", help="Netscape cookies.txt file."),
    cookies_from_browser: str | None = COOKIES_FROM_BROWSER,
    proxy: str | None = PROXY,
    js_runtime: str | None = JS_RUNTIME,
    rate_limit: float | None = RATE_LIMIT,
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Retry failed clips now."),
    no_preflight: bool = NO_PREFLIGHT,
    force: bool = typer.Option(False, "--force", help="Fetch already fetched clips again."),
    preset: str = PRESET,
    json_out: bool = JSON,
) -> None:
    """Fetch every pending clip (after importing --csv): 10-s mp4 + 16 kHz wav per clip."""
    if ctx.invoked_subcommand is not None:
        return
    e = env(ctx)
    fetch.check_proxy_argument(proxy)
    opts = fetch.FetchOptions(
        limit=limit,
        split=split,
        labels=tuple(label),
        workers=workers,
        url_template=url_template,
        cookies=cookies,
        cookies_from_browser=cookies_from_browser,
        proxy=proxy,
        js_runtime=js_runtime,
        preflight=not no_preflight,
        rate_limit_per_hour=rate_limit,
        retry_failed=retry_failed,
        force=force,
        normalise=fetch.NormaliseSettings(preset=preset),
    )
    fetch.check_options(opts)  # a bad option is refused before the store is opened
    report = fetch.fetch_clips(e.store, e.settings, opts, csv_path=csv)
    e.out(json_out).show(report, _view)
    if report.interrupted:
        raise typer.Exit(130)
    if report.stopped_reason:
        fix = f" ({report.stop_fix})" if report.stop_fix else ""
        err.print(f"error: fetch {report.stopped_reason}{fix}", markup=False)
        raise typer.Exit(1)


def _view(report: fetch.FetchReport) -> None:
    if report.imported is not None:
        line(f"imported {report.imported.path}: {report.imported.clips_new} new clip(s)")
    kv(
        "fetch interrupted" if report.interrupted else "fetch done",
        {
            "attempted": report.attempted,
            "fetched": report.fetched,
            "short (padded)": report.short,
            "failed, will retry": report.failed_retryable,
            "failed for good": report.failed_permanent,
            "rate limited": report.rate_limited,
            "given back to the queue": report.released,
            "re-fetch failed, old kept": report.refetch_kept,
            "clips/min": report.clips_per_min,
            "still due": report.remaining,
            "waiting for a retry": report.waiting,
            "next retry at (UTC)": report.next_retry_at,
            "stopped because": report.stopped_reason,
        },
    )
    if report.failures:
        rows(
            "failures",
            ["clip", "class", "status", "message"],
            [(f.clip_id, f.error_class, f.status, f.message[:160]) for f in report.failures],
        )


@app.command("status")
def status(ctx: typer.Context, json_out: bool = JSON) -> None:
    """Counts by status and error class, the last hour's rate and the ETA."""
    e = env(ctx)
    e.out(json_out).show(fetch.fetch_status(e.store), _status_view)


def _status_view(report: fetch.FetchStatus) -> None:
    eta = f"{report.eta_s / 3600:.1f} h" if report.eta_s is not None else None
    kv(
        "fetch status",
        {
            "fetched in the last hour": report.fetched_last_hour,
            "rate (clips/hour)": report.rate_per_hour,
            "still to fetch": report.remaining,
            "short (padded)": report.short,
            "ETA at this rate": eta,
        },
    )
    counts("by status", report.by_status, "status")
    if report.by_error_class:
        counts("unfetched clips by error class", report.by_error_class, "error class")

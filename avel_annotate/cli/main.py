"""The `avel` command: global options, sub-commands, and the one error table."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import typer

from avel_annotate import __version__
from avel_annotate.cli import annotate as annotate_cmd
from avel_annotate.cli import clips as clips_cmd
from avel_annotate.cli import db as db_cmd
from avel_annotate.cli import demo as demo_cmd
from avel_annotate.cli import doctor as doctor_cmd
from avel_annotate.cli import export as export_cmd
from avel_annotate.cli import features as features_cmd
from avel_annotate.cli import fetch as fetch_cmd
from avel_annotate.cli import labelstudio as labelstudio_cmd
from avel_annotate.cli import model as model_cmd
from avel_annotate.cli import predict as predict_cmd
from avel_annotate.cli import report as report_cmd
from avel_annotate.cli import splits as splits_cmd
from avel_annotate.cli.output import Env
from avel_annotate.cli.render import err
from avel_annotate.config import load_settings
from avel_annotate.errors import AvelError, ClipListError

_ID_RE = re.compile(r"-[A-Za-z0-9_-]{10}(_\d{6})?")  # a YouTube or clip id that starts with '-'

# Typer 0.2x bundles its own copy of click; catch the usage errors of whichever copy parsed argv.
try:
    from typer._click.exceptions import ClickException
except ImportError:  # older typer: plain click
    from click.exceptions import ClickException  # type: ignore[assignment,no-redef]

app = typer.Typer(
    name="avel",
    help="Build audio-visual event localisation datasets with a CPSP model in the loop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain click help: Typer's rich help shows flags as `--json <bool>` (they take no value)
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
# in the order of the loop: clip lists -> media -> features -> annotation -> models -> outputs
app.add_typer(db_cmd.app, name="db")
app.add_typer(clips_cmd.app, name="clips")
app.add_typer(splits_cmd.app, name="split")
app.add_typer(fetch_cmd.app, name="fetch")
app.add_typer(features_cmd.app, name="features")
app.add_typer(labelstudio_cmd.app, name="labelstudio")
app.add_typer(annotate_cmd.app, name="annotate")
app.command("train")(model_cmd.train)
app.command("evaluate")(model_cmd.evaluate)
app.command("predict")(predict_cmd.predict)
app.add_typer(model_cmd.app, name="model")
app.add_typer(model_cmd.models_app, name="models")
app.command("export")(export_cmd.export)
app.command("report")(report_cmd.report)
app.command("demo")(demo_cmd.demo)
app.command("doctor")(doctor_cmd.doctor)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"avel-annotate {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    db: str | None = typer.Option(
        None, "--db", help="Database URL (default: SQLite file <data-dir>/avel.db). Env: AVEL_DB."
    ),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Where clips, features and models go (default ./avel-data). Env: AVEL_DATA_DIR.",
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Config file (default <data-dir>/config.toml). Env: AVEL_CONFIG."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what is happening."),
    json_out: bool = typer.Option(False, "--json", help="Print reports as JSON."),
    no_progress: bool = typer.Option(
        False,
        "--no-progress",
        help="No progress bars (also off when CI is set). Env: AVEL_PROGRESS.",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    overrides = {"progress": False} if no_progress else {}
    settings = load_settings(data_dir=data_dir, db_url=db, config_path=config, overrides=overrides)
    ctx.obj = Env(settings, json=json_out, verbose=verbose)
    ctx.call_on_close(ctx.obj.close)


def run(argv: list[str] | None = None) -> int:
    """Entry point (the console script exits with the returned code).

    Every AvelError becomes one line on stderr and exit code 1; tracebacks only with AVEL_DEBUG=1.
    """
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="avel", standalone_mode=False)
    except ClipListError as e:
        for problem in e.problems:
            err.print(problem, markup=False)
        err.print(f"error: {e.one_line()}", markup=False)
        return 1
    except AvelError as e:
        if os.environ.get("AVEL_DEBUG"):
            raise
        err.print(f"error: {e.one_line()}", markup=False)
        return e.exit_code
    except typer.Abort:
        err.print("aborted", markup=False)
        return 130
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return 130
    except ClickException as e:
        e.show()
        dash_ids = [a for a in (argv or sys.argv[1:]) if a.startswith("-") and _ID_RE.fullmatch(a)]
        if dash_ids:
            err.print(
                f"hint: ids that start with '-' go after `--`, e.g. `... -- {dash_ids[0]}`",
                markup=False,
            )
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except Exception as e:  # the last line of the error table: say what broke, in one line
        if os.environ.get("AVEL_DEBUG"):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        err.print(
            f"error: unexpected {type(e).__name__}: {first} "
            "(run again with AVEL_DEBUG=1 for the traceback, and report it)",
            markup=False,
        )
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(run())

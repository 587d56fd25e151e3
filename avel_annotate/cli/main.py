"""The `avel` command: global options, sub-commands, and the one error table."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click
import typer

from avel_annotate import __version__
from avel_annotate.cli import clips as clips_cmd
from avel_annotate.cli import db as db_cmd
from avel_annotate.cli.render import err
from avel_annotate.config import load_settings
from avel_annotate.errors import AvelError, ClipListError

app = typer.Typer(
    name="avel",
    help="Build audio-visual event localisation datasets with a CPSP model in the loop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db_cmd.app, name="db")
app.add_typer(clips_cmd.app, name="clips")
app.add_typer(clips_cmd.split_app, name="split")


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
    ctx.obj = load_settings(
        data_dir=data_dir,
        db_url=db,
        config_path=config,
        verbose=verbose,
        json=json_out,
        overrides=overrides,
    )


def _register_optional() -> None:
    """Sub-commands of later parts of the loop, added when their modules exist."""
    import importlib

    for module_name, attr, name in _OPTIONAL:
        try:
            module = importlib.import_module(f"avel_annotate.cli.{module_name}")
        except ModuleNotFoundError as e:
            if e.name != f"avel_annotate.cli.{module_name}":
                raise
            continue
        target = getattr(module, attr)
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=name)
        else:
            app.command(name=name)(target)


_OPTIONAL: list[tuple[str, str, str]] = [
    ("fetch", "app", "fetch"),
    ("features", "app", "features"),
    ("labelstudio", "app", "labelstudio"),
    ("annotate", "app", "annotate"),
    ("model", "train", "train"),
    ("model", "evaluate", "evaluate"),
    ("model", "app", "model"),
    ("model", "models_app", "models"),
    ("predict", "predict", "predict"),
    ("export", "export", "export"),
    ("report", "report", "report"),
    ("demo", "demo", "demo"),
]
_register_optional()


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
    except click.exceptions.Abort:
        err.print("aborted", markup=False)
        return 130
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
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

"""User data is printed literally: labels, paths and ids never act as Rich markup or emoji codes."""

from __future__ import annotations

import pytest

from avel_annotate.cli.main import app, run

LABELS = ["[bold]", "[/path]", "Engine [idling]", "dog :smile: [red]x[/red]"]


def _csv(tmp_path, rows: str):
    folder = tmp_path / "[bold]lists"  # the path of the list is printed too
    folder.mkdir()
    path = folder / "v.csv"
    path.write_text(rows, encoding="utf-8")
    return path


def _avel(data_dir, *args: str) -> list[str]:
    return ["--data-dir", str(data_dir), "--no-progress", *args]


@pytest.fixture
def imported(data_dir, tmp_path, capsys: pytest.CaptureFixture) -> str:
    rows = "".join(f'abcdefghij{i},{i},"{label}",train\n' for i, label in enumerate(LABELS))
    path = _csv(tmp_path, rows)
    assert run(_avel(data_dir, "clips", "import", str(path))) == 0
    return capsys.readouterr().out


def test_import_prints_the_path_literally(imported: str, tmp_path) -> None:
    assert f"imported {tmp_path / '[bold]lists' / 'v.csv'} (vggsound)" in imported


def test_list_and_stats_print_labels_literally(
    imported: str, data_dir, capsys: pytest.CaptureFixture
) -> None:
    for command in (["clips", "list"], ["clips", "stats"]):
        assert run(_avel(data_dir, *command)) == 0
        out = capsys.readouterr().out
        for label in LABELS:
            assert label in out, (command, label, out)
        assert "😄" not in out


def test_errors_and_skipped_rows_print_data_literally(
    data_dir, tmp_path, capsys: pytest.CaptureFixture
) -> None:
    path = _csv(tmp_path, "[/path]abcd,1,dog,train\nabcdefghijk,1,Engine [idling],train\n")
    assert run(_avel(data_dir, "clips", "import", str(path))) == 1
    err = capsys.readouterr().err
    assert "'[/path]abcd'" in err and "unexpected" not in err
    assert run(_avel(data_dir, "clips", "import", str(path), "--skip-invalid")) == 0
    out = capsys.readouterr().out
    assert "skipped " in out and "[/path]abcd" in out


def _commands(group, prefix=()):
    yield prefix, group
    for name, sub in getattr(group, "commands", {}).items():
        yield from _commands(sub, (*prefix, name))


def test_flags_render_as_flags_in_help(capsys: pytest.CaptureFixture) -> None:
    import typer

    root = typer.main.get_command(app)
    seen = 0
    for path, _command in _commands(root):
        assert run([*path, "--help"]) == 0
        out = capsys.readouterr().out
        assert "<bool>" not in out, (path, out)
        seen += 1
    assert seen > 20
    assert run(["clips", "list", "--help"]) == 0
    help_lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:1] == ["--json"] for line in help_lines)


def test_every_render_helper_prints_markup_literally(capsys: pytest.CaptureFixture) -> None:
    from avel_annotate.cli import render

    nasty = "[/path] [bold]x[/bold] :smile: Engine [idling]"
    render.kv(nasty, {nasty: nasty})
    render.counts(nasty, {nasty: 3}, nasty)
    render.rows(nasty, [nasty], [[nasty]])  # e.g. the fetch failures table
    render.line(nasty)
    render.line(nasty, style="bold red")
    out = capsys.readouterr().out
    assert out.count(nasty) >= 8, out

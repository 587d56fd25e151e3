"""`avel features extract` and `avel features import-ave-h5`."""

from __future__ import annotations

from pathlib import Path

import typer

from avel_annotate.cli.output import JSON, env
from avel_annotate.cli.render import kv, line
from avel_annotate.domain.device import DEVICE_HELP
from avel_annotate.services import features

app = typer.Typer(help="Per-second VGG-19 pool5 + VGGish features for fetched clips.")

D = features.ExtractOptions  # the defaults, written once there


@app.command("extract")
def extract(
    ctx: typer.Context,
    split: str | None = typer.Option(None, "--split", help="Only clips of this split."),
    limit: int | None = typer.Option(None, "--limit", min=1),
    device: str | None = typer.Option(None, "--device", help=DEVICE_HELP + " Env: AVEL_DEVICE."),
    dtype: str = typer.Option(D.dtype, "--dtype", help="float32 | bfloat16 (autocast)."),
    visual: str = typer.Option(D.visual, "--visual", help="vgg19 | resnet18."),
    fps: int = typer.Option(D.frames_per_second, "--frames-per-second", min=1),
    caffe: bool = typer.Option(False, "--caffe", help="Caffe-converted VGG-19 + caffe input."),
    vgg19_weights: Path | None = typer.Option(None, "--vgg19-weights", "--visual-weights"),
    vggish_weights: Path | None = typer.Option(None, "--vggish-weights"),
    pca_params: Path | None = typer.Option(None, "--pca-params", help="VGGish PCA file."),
    allow_random: bool = typer.Option(
        False, "--allow-random-weights", help="Demo only: random weights, marked as such."
    ),
    decode_workers: int | None = typer.Option(
        None,
        "--decode-workers",
        min=0,
        help="Decode processes (default: cores - 1 on a GPU, 1 on the CPU; 0: in this process).",
    ),
    force: bool = typer.Option(False, "--force", help="Recompute clips that have features."),
    json_out: bool = JSON,
) -> None:
    """Compute visual [10,7,7,512] and audio [10,128] float16 features per clip."""
    e = env(ctx)
    options = features.ExtractOptions(
        device=device or e.settings.device,
        dtype=dtype,
        visual=visual,
        frames_per_second=fps,
        preprocessing="caffe" if caffe else "torchvision",
        visual_weights=vgg19_weights,
        vggish_weights=vggish_weights,
        pca_params=pca_params,
        allow_random_weights=allow_random,
        decode_workers=-1 if decode_workers is None else decode_workers,
    )
    report = features.extract_features(
        e.store, e.settings, options, split=split, limit=limit, force=force
    )
    e.out(json_out).show(report, _view)


def _view(report: features.FeatureReport) -> None:
    if report.random_weights:
        line("RANDOM WEIGHTS: these features are for demos only", style="bold red")
    for failure in report.failures:
        line(f"failed {failure}")
    kv(
        f"features {report.extractor}",
        {
            "clips selected": report.selected,
            "done": report.done,
            "failed": report.failed,
            "seconds": report.wall_s,
            "clips/s": report.clips_per_s,
            "device": report.device,
        },
    )


@app.command("import-ave-h5")
def import_ave_h5(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="Folder with visual_feature.h5 and audio_feature.h5."),
    annotations: Path | None = typer.Option(
        None, "--annotations", help="The AVE Annotations.txt (default: in the folder)."
    ),
) -> None:
    """Import the authors' released AVE features (float64 in, float16 stored)."""
    e = env(ctx)
    report = features.import_ave_features(e.store, e.settings, folder, annotations)
    kv("imported AVE features", report.__dict__)

"""`avel demo`: the whole loop on the embedded default, offline, in a few minutes.

Generates short source videos with ffmpeg, serves them on a local HTTP server (with Range
support) and fetches them through the real yt-dlp + ffmpeg path, extracts features (random
weights, labelled as such), trains a model on the synthetic labels, pre-labels, pushes tasks
with predictions to a local Label Studio when the server extra is installed, and writes the
report. Every step is the same service a user calls; re-running skips what is done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avel_annotate.config import Settings
from avel_annotate.domain.vocab import ClipStatus
from avel_annotate.errors import AvelError
from avel_annotate.fileio import write_text
from avel_annotate.media.demo_media import make_demo_source
from avel_annotate.media.http_server import RangeServer
from avel_annotate.services import evaluation, features, model_registry, predict, report, training
from avel_annotate.services.clips import clip_stats
from avel_annotate.services.fetch import FetchOptions, FetchReport, fetch_clips
from avel_annotate.store.database import Store

log = logging.getLogger(__name__)

DEMO_CLIPS = 12  # the defaults of `avel demo --clips / --epochs`
DEMO_EPOCHS = 20
CATEGORIES = ("synthetic red 330 Hz", "synthetic blue 440 Hz", "synthetic yellow 550 Hz")
# five splits against three categories: every category lands in every split
SPLITS = ("train", "train", "val", "train", "test")


@dataclass(frozen=True)
class DemoClip:
    ytid: str
    start_s: int
    category: int
    segments: str
    split: str


@dataclass(frozen=True)
class DemoReport:
    data_dir: str
    clips: int
    fetched: int
    fetch_failed: int
    feature_kind: str
    model: str
    val_accuracy: float
    predicted: int
    pushed: int | None
    labelstudio: str
    report_path: str
    seconds: float


def demo_clips(n: int) -> list[DemoClip]:
    """A fixed, varied set: events of different lengths and places, some all-event clips."""
    out = []
    for i in range(n):
        category = i % len(CATEGORIES)
        a = (i * 3) % 7
        b = min(10, a + 2 + (i * 5) % 8)
        if i % 5 == 0:
            a, b = 0, 10
        segments = "".join("1" if a <= t < b else "0" for t in range(10))
        ytid = f"{'-' if i % 4 == 0 else 'd'}emo{i:07d}"
        out.append(DemoClip(ytid, (i * 2) % 5, category, segments, SPLITS[i % len(SPLITS)]))
    return out


def write_sources(root: Path, clips: list[DemoClip]) -> None:
    for c in clips:
        path = root / f"{c.ytid}.mp4"
        if path.exists():
            continue
        ones = [t for t, bit in enumerate(c.segments) if bit == "1"]
        events = [(c.start_s + ones[0], c.start_s + ones[-1] + 1)] if ones else []
        make_demo_source(path, c.start_s + 12, c.category, events)


def _write_list(path: Path, clips: list[DemoClip]) -> None:
    lines = ["video_id,category,split,labels"]
    for c in clips:
        bits = "[" + ",".join(c.segments) + "]"
        lines.append(f'{c.ytid}_{c.start_s:06d},{CATEGORIES[c.category]},{c.split},"{bits}"')
    write_text(path, "\n".join(lines) + "\n")


@dataclass(frozen=True)
class _Steps:
    """Says each step of the demo with the seconds since it started."""

    say: Callable[[str], None]
    started: float

    def __call__(self, message: str) -> None:
        self.say(f"[{time.perf_counter() - self.started:5.0f} s] {message}")


def _write_demo_inputs(settings: Settings, sources: Path, clips: list[DemoClip]) -> Path:
    """The generated source videos and the clip list naming them; returns the list's path."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    write_sources(sources, clips)
    clip_list = settings.data_dir / "demo-clips.csv"
    _write_list(clip_list, clips)
    return clip_list


def _labelstudio_step(
    settings: Settings, model: str, labelstudio: bool, step: Callable[[str], None]
) -> tuple[int | None, str]:
    if not labelstudio:
        step("6/7 Label Studio skipped")
        return None, "skipped (--no-labelstudio)"
    step("6/7 pushing tasks with predictions to a local Label Studio")
    return _push_to_labelstudio(settings, model)


def _fetch_demo_clips(
    store: Store, settings: Settings, sources: Path, clip_list: Path
) -> FetchReport:
    """Serve the generated sources over HTTP and fetch them like any clip list."""
    with RangeServer(sources) as server:
        opts = FetchOptions(workers=2, url_template=server.base_url + "/{ytid}.mp4")
        return fetch_clips(store, settings, opts, csv_path=clip_list)


# ResNet-18 in bfloat16 at 8 frames a second keeps the demo to minutes on a laptop CPU; all
# three choices are recorded in every feature file's provenance
DEMO_FEATURES = features.ExtractOptions(
    visual="resnet18", dtype="bfloat16", frames_per_second=8, allow_random_weights=True
)


def run_demo(
    store: Store,
    settings: Settings,
    *,
    n_clips: int = DEMO_CLIPS,
    labelstudio: bool = True,
    epochs: int = DEMO_EPOCHS,
    say: Callable[[str], None] = log.info,
) -> DemoReport:
    started = time.perf_counter()
    step = _Steps(say, started)
    clips = demo_clips(n_clips)
    sources = settings.data_dir / "demo-sources"
    step(f"1/7 generating {len(clips)} source videos with ffmpeg in {sources}")
    clip_list = _write_demo_inputs(settings, sources, clips)
    step("2/7 fetching them through yt-dlp + ffmpeg from a local HTTP server")
    fetched = _fetch_demo_clips(store, settings, sources, clip_list)
    step("3/7 extracting features (RANDOM weights: a demonstration, not real features)")
    feats = features.extract_features(store, settings, DEMO_FEATURES)

    step("4/7 training CPSP on the synthetic labels")
    existing = {v.name for v in model_registry.list_versions(store)}
    name = next(f"demo-{i}" for i in range(1, 10_000) if f"demo-{i}" not in existing)
    trained = training.train_model(store, settings, training.TrainOptions(
        name=name, labels="list", allow_random_features=True, epochs=epochs,
        stage2_epochs=3, batch_size=8, features=feats.extractor))  # fmt: skip

    step("5/7 pre-labelling every clip with the new model")
    predicted = predict.predict(
        store, settings, name, features=feats.extractor, allow_random_features=True
    )
    evaluation.evaluate_model(store, settings, name, evaluation.EvalOptions(
        "test", labels="list", allow_random_features=True, features=feats.extractor))  # fmt: skip

    pushed, ls_note = _labelstudio_step(settings, name, labelstudio, step)

    step("7/7 writing the report")
    summary = report.write_report(store, settings)
    return DemoReport(
        data_dir=str(settings.data_dir),
        clips=len(clips),
        fetched=clip_stats(store).by_status.get(ClipStatus.FETCHED, 0),
        fetch_failed=fetched.failed_permanent + fetched.failed_retryable,
        feature_kind=feats.extractor,
        model=name,
        val_accuracy=round(trained.best_val_accuracy, 4),
        predicted=predicted.predicted,
        pushed=pushed,
        labelstudio=ls_note,
        report_path=summary.out,
        seconds=round(time.perf_counter() - started, 1),
    )


def _push_to_labelstudio(settings: Settings, model: str) -> tuple[int | None, str]:
    from avel_annotate.errors import LabelStudioError
    from avel_annotate.labelstudio.server import find_label_studio, free_port
    from avel_annotate.services.annotate import PushOptions, push
    from avel_annotate.services.labelstudio import start_local_server

    try:
        find_label_studio()
    except LabelStudioError:
        return None, "not installed: pip install 'avel-annotate[server]' to add the server"
    # the port `avel labelstudio serve` uses by default, so the project the demo made is found
    # again under the same server URL when the user opens it later
    handle, served = start_local_server(settings, port=free_port(8080))
    try:
        from avel_annotate.config import load_settings
        from avel_annotate.services.store import open_store

        live = load_settings(
            data_dir=settings.data_dir,
            db_url=settings.db_url,
            overrides={"progress": settings.progress},
        )
        with open_store(live) as store:
            result = push(store, live, PushOptions(model=model, order="balanced"))
    except AvelError as e:
        return None, f"push failed: {e.one_line()}"
    finally:
        handle.stop()
    note = (
        f"{result.created} task(s) in project {result.project!r}; look at them with "
        f"`avel --data-dir {settings.data_dir} labelstudio serve` (login {served.admin_email}, "
        f"password in {served.credentials_path})"
    )
    return result.created, note

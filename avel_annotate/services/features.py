"""`avel features extract` and the import of the authors' AVE feature release."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from avel_annotate.config import Settings
from avel_annotate.domain.cliplist import parse_clip_list
from avel_annotate.errors import ClipListError, FeatureError
from avel_annotate.features.ave_h5 import AVE_EXTRACTOR, import_ave_h5
from avel_annotate.features.decode_pool import default_workers
from avel_annotate.features.extract import ClipResult, Extractor, ExtractorOptions
from avel_annotate.features.provenance import Provenance
from avel_annotate.features.store_files import feature_path, read_features, write_features
from avel_annotate.fileio import sha256_file
from avel_annotate.media.decode import decode_clip, decoder_description
from avel_annotate.services.device import pick_device
from avel_annotate.services.progress import ProgressBar
from avel_annotate.store import features as q
from avel_annotate.store.clips import clip_pk_map
from avel_annotate.store.database import Store

log = logging.getLogger(__name__)
RANDOM_SUFFIX = "-random"
ExtractOptions = ExtractorOptions  # the options of `avel features extract`, re-exported for the CLI


@dataclass(frozen=True)
class FeatureReport:
    extractor: str
    random_weights: bool
    provenance: dict[str, object]
    selected: int
    done: int
    failed: int
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    clips_per_s: float = 0.0
    device: str = "cpu"
    decode_workers: int = 0


def resolve_options(options: ExtractorOptions) -> ExtractorOptions:
    """The options as run: the device picked, the decode workers and prefetch settled, the
    decoder named (all of it lands in the provenance)."""
    device = pick_device(options.device)
    workers = options.decode_workers
    if workers < 0:  # "not given": one process per spare core on a GPU, one on the CPU
        workers = default_workers(device)
    return replace(
        options,
        decoder=decoder_description(),
        device=device,
        decode_workers=workers,
        prefetch_clips=max(options.prefetch_clips, workers + 1),
    )


@dataclass
class _Recorder:
    """Writes each finished clip's feature file, then records it in its own unit of work."""

    store: Store
    settings: Settings
    kind: str
    provenance: Provenance
    pks: dict[str, int]
    bar: ProgressBar
    failures: list[str] = field(default_factory=list)

    def __call__(self, result: ClipResult) -> None:
        if not result.ok or result.visual is None or result.audio is None:
            self.failures.append(f"{result.clip_id}: {result.error}")
            self.bar.advance(failed=True)
            return
        prov = self.provenance
        path = feature_path(self.settings.features_dir, self.kind, result.clip_id)
        write_features(path, result.visual, result.audio, prov)
        digest = sha256_file(path)
        with self.store.session() as s:
            q.record_feature_file(
                s,
                self.pks[result.clip_id],
                extractor=self.kind,
                path=str(path.relative_to(self.settings.data_dir)),
                dtype="float16",
                is_random=prov.random,
                weights_sha256=f"{prov.visual_weights};{prov.audio_weights}",
                provenance=prov.to_json(),
                sha256=digest,
            )
        self.bar.advance()


def extract_features(
    store: Store,
    settings: Settings,
    options: ExtractorOptions,
    *,
    split: str | None = None,
    limit: int | None = None,
    force: bool = False,
) -> FeatureReport:
    """Features for every fetched clip that lacks them; each clip is its own unit of work.

    Features made with random weights go to a separate feature kind (``<name>-random``) so they
    can never be mixed with real ones, and training refuses them unless told otherwise.
    """
    options = resolve_options(options)
    extractor = Extractor.from_options(options)
    name = extractor.name + (RANDOM_SUFFIX if extractor.provenance.random else "")
    provenance = replace(extractor.provenance, extractor=name)
    with store.session() as session:
        todo = q.clips_needing_features(session, name, split=split, limit=limit, force=force)
    items = [
        (c.clip_id, settings.data_dir / c.media_path, settings.data_dir / c.wav_path) for c in todo
    ]
    started = time.perf_counter()
    with ProgressBar(settings.progress, len(items), f"features {name}") as bar:
        pks = {c.clip_id: c.id for c in todo}
        record = _Recorder(store, settings, name, provenance, pks, bar)
        decode = partial(decode_clip, frames_per_second=options.frames_per_second)
        summary = extractor.extract_many(items, decode, record)
    wall = time.perf_counter() - started
    return FeatureReport(
        extractor=name,
        random_weights=provenance.random,
        provenance={k: v for k, v in provenance.__dict__.items()},
        selected=len(items),
        done=summary.n_ok,
        failed=summary.n_failed,
        failures=record.failures,
        wall_s=round(wall, 2),
        clips_per_s=round(summary.n_ok / wall, 3) if wall > 0 and summary.n_ok else 0.0,
        device=options.device,
        decode_workers=options.decode_workers,
    )


@dataclass(frozen=True)
class AveImportReport:
    extractor: str
    rows: int
    clips: int
    recorded: int


def import_ave_features(
    store: Store, settings: Settings, folder: Path, annotations: Path | None = None
) -> AveImportReport:
    """Import ``visual_feature.h5`` / ``audio_feature.h5``; row i is line i of Annotations.txt.

    The clips must already be in the store (``avel clips import Annotations.txt``).
    """
    ann = annotations or folder / "Annotations.txt"
    try:
        text = ann.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise FeatureError(
            f"{ann}: cannot read ({e.strerror})", "pass the AVE list with --annotations"
        ) from e
    parsed = parse_clip_list(str(ann), text, "ave")
    if parsed.problems:
        raise ClipListError(
            f"{ann}: {len(parsed.problems)} bad row(s)", problems=parsed.problem_lines()
        )
    row_ids = [f"{r.ytid}_000000" for r in parsed.rows]
    with store.session() as session:
        pks = clip_pk_map(session, row_ids)
    missing = sorted(set(row_ids) - set(pks))
    if missing:
        raise FeatureError(
            f"{len(missing)} clip(s) of {ann} are not in the store (first: {missing[0]})",
            f"run `avel clips import {ann}` first",
        )
    paths = import_ave_h5(
        folder / "visual_feature.h5",
        folder / "audio_feature.h5",
        row_ids,
        settings.features_dir,
    )
    recorded: dict[str, Path] = dict(zip(row_ids, paths, strict=True))
    for clip_id, path in recorded.items():
        prov = read_features(path).provenance
        with store.session() as session:
            q.record_feature_file(
                session,
                pks[clip_id],
                extractor=AVE_EXTRACTOR,
                path=str(path.relative_to(settings.data_dir)),
                dtype="float16",
                is_random=False,
                weights_sha256=prov.visual_weights,
                provenance=prov.to_json(),
                sha256=None,
            )
    return AveImportReport(AVE_EXTRACTOR, len(row_ids), len(recorded), len(recorded))

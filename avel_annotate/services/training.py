"""`avel train`: train CPSP on the store's labelled clips (or an AVE h5 release) and register it.

:class:`TrainOptions` holds every choice of a run and its default (the CLI reads its defaults
from there). The run reads what it needs from the store in one short unit of work, trains with
no session open (``model.train``, resumable under ``<version>/run/``), scores the previous
default on the same validation clips, writes the version's files and registers it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from avel_annotate.config import Settings
from avel_annotate.domain.cliplist import decode_text, parse_clip_list
from avel_annotate.errors import ConfigError, ModelError, NotFoundError
from avel_annotate.model.checkpoint import load_checkpoint, save_checkpoint
from avel_annotate.model.config import DEFAULT_TAU, WEAK_LOSSES, Head, ModelConfig, Setting
from avel_annotate.model.data import AveH5Dataset, ClipDataset
from avel_annotate.model.evaluate import evaluate
from avel_annotate.model.train import EpochRecord, TrainConfig, TrainResult, train
from avel_annotate.services.device import pick_device
from avel_annotate.services.feature_cache import cache_folder, packed_dataset
from avel_annotate.services.model_registry import (
    WEIGHTS,
    NewVersion,
    load_version,
    pick_extractor,
    register_version,
    require_new_name,
    version_dir,
    write_version_files,
)
from avel_annotate.services.training_data import FeatureFileDataset, feature_file_dataset
from avel_annotate.store import models as q
from avel_annotate.store.clips import category_names
from avel_annotate.store.database import Store

log = logging.getLogger(__name__)

__all__ = ["EpochRecord", "TrainOptions", "TrainReport", "train_model"]


@dataclass(frozen=True)
class TrainOptions:
    """One training run. ``None`` epochs keep the recipe's (45 stage-1, 10 per later stage)."""

    name: str | None = None  # default cpsp-<UTC time>
    split: str = "train"
    val_split: str = "val"
    setting: str = "fully"  # fully | weakly
    head: str = "event-category"  # event-category | paper
    stages: tuple[str, ...] = ("psp", "psa_s", "psa_v")
    epochs: int | None = None
    stage2_epochs: int | None = None
    batch_size: int = 128
    seed: int = 0
    bf16: bool = False
    from_ave_h5: Path | None = None
    features: str | None = None
    labels: str = "curated"  # curated | list
    allow_random_features: bool = False
    make_default: bool = True
    device: str | None = "auto"
    weak_loss: str = "bce"
    feature_cache: bool = True

    def check(self) -> None:
        if self.setting not in DEFAULT_TAU:
            raise ConfigError(f"unknown setting {self.setting!r}", "use fully or weakly")
        if self.labels not in ("curated", "list"):
            raise ConfigError(f"unknown label source {self.labels!r}", "use curated or list")
        if self.weak_loss not in WEAK_LOSSES:
            raise ConfigError(
                f"unknown weak loss {self.weak_loss!r}", f"use one of {', '.join(WEAK_LOSSES)}"
            )

    def model_config(self, n_categories: int) -> ModelConfig:
        return ModelConfig(
            n_categories=n_categories,
            head=cast(Head, self.head),
            setting=cast(Setting, self.setting),
            tau=DEFAULT_TAU[self.setting],
            weak_loss=self.weak_loss,
        )

    def train_config(self) -> TrainConfig:
        args: dict[str, Any] = {
            "seed": self.seed,
            "stages": self.stages,
            "batch_size": self.batch_size,
            "bf16": self.bf16,
        }
        if self.epochs is not None:
            args["psp_epochs"] = self.epochs
        if self.stage2_epochs is not None:
            args.update(psa_s_epochs=self.stage2_epochs, psa_v_epochs=self.stage2_epochs)
        return TrainConfig(**args)


@dataclass(frozen=True)
class TrainReport:
    name: str
    path: str
    source: str
    n_train: int
    n_val: int
    n_categories: int
    best_stage: str
    best_epoch: int
    best_val_accuracy: float
    previous: str | None
    previous_val_accuracy: float | None  # the previous default, scored on this run's val clips
    is_default: bool
    seconds: float
    val_metrics: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    # best checkpoint of every stage run (the registered one is ``best_stage``, the last stage)
    stage_best: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingData:
    train: ClipDataset
    val: ClipDataset
    categories: list[str]
    snapshot: dict[str, Any]


def ave_categories(root: Path, n: int) -> list[str]:
    """Class names of an AVE release: order of first appearance in its Annotations.txt."""
    for candidate in (root / "Annotations.txt", root / "annotations.txt"):
        if candidate.is_file():
            text = decode_text(candidate.read_bytes())
            rows = parse_clip_list(str(candidate), text, "ave").rows
            names = list(dict.fromkeys(row.label for row in rows))
            if len(names) == n:
                return names
    return [f"class_{i}" for i in range(n)]


def _ave_h5_data(root: Path) -> TrainingData:
    train_data, val_data = AveH5Dataset(root, "train"), AveH5Dataset(root, "val")
    snapshot = {"source": f"ave-h5:{root}", "train_clips": len(train_data),
                "val_clips": len(val_data)}  # fmt: skip
    return TrainingData(
        train_data, val_data, ave_categories(root, train_data.n_categories), snapshot
    )


def _labelled(
    store: Store, o: TrainOptions
) -> tuple[str, list[str], list[q.LabelledFeatures], list[q.LabelledFeatures]]:
    with store.session() as session:
        name = pick_extractor(session, o.features)
        categories = category_names(session)
        train_items = q.labelled_features(session, o.split, name, o.labels)
        val_items = q.labelled_features(session, o.val_split, name, o.labels)
    what = "curated labels" if o.labels == "curated" else "list labels"
    if not train_items:
        raise ModelError(
            f"no clips of split {o.split!r} have {what} and {name} features",
            "annotate and pull (`avel annotate pull`), or extract features",
        )
    if not val_items:
        raise ModelError(
            f"no clips of split {o.val_split!r} have {what} and {name} features to select on",
            "assign a validation split (`avel split assign`) and label some of it",
        )
    if not categories:
        raise ModelError("the store has no categories", "import a clip list first")
    return name, categories, train_items, val_items


def _store_data(store: Store, settings: Settings, o: TrainOptions) -> TrainingData:
    """The labelled clips of both splits over their feature files, through the packed cache
    (per split, kind and label source; rebuilt only when its inputs change) unless it is off."""
    kind, categories, train_items, val_items = _labelled(store, o)
    data: dict[str, ClipDataset] = {
        which: feature_file_dataset(
            items, settings.data_dir, categories, allow_random=o.allow_random_features
        )
        for which, items in ((o.split, train_items), (o.val_split, val_items))
    }  # both checked before either is packed
    built: dict[str, bool] = {}
    sources = list(data.items()) if o.feature_cache else []
    for which, source in sources:  # packed per split, kind and label source
        folder = cache_folder(settings.features_dir, kind, which, o.labels)
        data[which], built[which] = packed_dataset(
            cast(FeatureFileDataset, source), folder, show_progress=settings.progress
        )
    snapshot = {
        "source": "store",
        "feature_cache": {k: "built" if v else "reused" for k, v in built.items()} or "off",
        "labels": o.labels,
        "features": kind,
        "random_features": any(i.is_random for i in train_items),
        f"{o.split}_clips": len(data[o.split]),
        f"{o.val_split}_clips": len(data[o.val_split]),
        "label_sources": _count(i.label_source for i in train_items),
    }
    return TrainingData(data[o.split], data[o.val_split], categories, snapshot)


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def _previous_default(store: Store, name: str) -> tuple[str | None, float | None]:
    """The current default version and its recorded validation accuracy; refuses a taken
    ``name`` before any work is done."""
    with store.session() as session:
        require_new_name(session, name)
        previous = q.default_version(session)
        if previous is None:
            return None, None
        val = json.loads(previous.metrics or "{}").get("val") or {}
        return previous.name, val.get("accuracy")


def _score_on(
    store: Store,
    settings: Settings,
    name: str,
    categories: list[str],
    data: ClipDataset,
    fallback: float | None,
) -> float | None:
    """The accuracy of version ``name`` on ``data``, so a new version is compared on the same
    validation clips; its recorded accuracy when it cannot run on them (other categories)."""
    try:
        previous = load_version(store, settings, name)
    except (ModelError, NotFoundError) as e:
        log.warning("cannot score previous version %s: %s", name, e.one_line())
        return fallback
    if previous.categories != categories:
        return fallback
    return float(evaluate(previous.model, data).report.accuracy)


@dataclass
class _Run:
    """One training run as it goes: what it trained on and what came out."""

    name: str
    out: Path
    device: str
    data: TrainingData
    model_config: ModelConfig
    train_config: TrainConfig
    previous: str | None
    result: TrainResult = field(init=False)
    seconds: float = 0.0
    previous_accuracy: float | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        r = self.result
        return {
            "val": r.val_metrics,
            "previous": {"name": self.previous, "val_accuracy_same_clips": self.previous_accuracy},
            "best_stage": r.best_stage,
            "best_epoch": r.best_epoch,
            "stage_best": r.stage_best,
            "train_seconds": round(self.seconds, 1),
        }

    def report(self, make_default: bool) -> TrainReport:
        r = self.result
        return TrainReport(
            name=self.name,
            path=str(self.out),
            source="trained",
            n_train=len(self.data.train),
            n_val=len(self.data.val),
            n_categories=len(self.data.categories),
            best_stage=r.best_stage,
            best_epoch=r.best_epoch,
            best_val_accuracy=r.best_val_accuracy,
            previous=self.previous,
            previous_val_accuracy=self.previous_accuracy,
            is_default=make_default,
            seconds=round(self.seconds, 1),
            val_metrics=r.val_metrics,
            device=self.device,
            stage_best=r.stage_best,
        )


def _register(
    store: Store,
    settings: Settings,
    o: TrainOptions,
    run: _Run,
) -> None:
    """Weights, config, metrics and card into the version folder, then the store row."""
    model, _ = load_checkpoint(run.result.best_checkpoint)
    save_checkpoint(run.out / WEIGHTS, model, {"version": run.name})
    config = {
        "name": run.name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": run.model_config.to_dict(),
        "train": run.train_config.to_dict(),
        "categories": run.data.categories,
        "data": run.data.snapshot,
        "device": run.device,
    }
    write_version_files(run.out, run.name, config, run.metrics)
    variant = f"{o.head}-{o.setting}"
    new = NewVersion(run.name, "trained", variant, run.out, config, run.data.categories,
                     run.metrics, run.data.snapshot, parent=run.previous)  # fmt: skip
    register_version(store, settings, new, make_default=o.make_default)


def train_model(
    store: Store,
    settings: Settings,
    options: TrainOptions | None = None,
    *,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainReport:
    """Train and register a model version; re-running with the same name resumes."""
    o = options or TrainOptions()
    o.check()
    device = pick_device(o.device)
    name = o.name or datetime.now(UTC).strftime("cpsp-%Y%m%d-%H%M%S")
    out = version_dir(settings, name)
    previous, previous_accuracy = _previous_default(store, name)
    data = _ave_h5_data(o.from_ave_h5) if o.from_ave_h5 else _store_data(store, settings, o)
    run = _Run(name, out, device, data, o.model_config(len(data.categories)), o.train_config(),
               previous, previous_accuracy=previous_accuracy)  # fmt: skip
    started = time.perf_counter()
    run.result = train(run.model_config, data.train, data.val, out / "run", run.train_config,
                       callback=on_epoch, resume=True, device=device)  # fmt: skip
    run.seconds = time.perf_counter() - started
    if previous is not None:
        run.previous_accuracy = _score_on(
            store, settings, previous, data.categories, data.val, previous_accuracy
        )
    _register(store, settings, o, run)
    return run.report(o.make_default)

"""The model registry and the training, evaluation and import of CPSP models.

A model version is a folder ``<models-dir>/<name>/`` holding ``config.json`` (model config,
training recipe, category names, data snapshot), ``metrics.json``, ``card.md`` and the weights
``weights.pt`` (plus ``run/`` with the resumable training state), and a ``model_version`` row.
The newest trained or imported version becomes the default for pre-labelling unless told not to.
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

from avel_annotate import __version__
from avel_annotate.config import Settings
from avel_annotate.domain.ids import is_safe_name
from avel_annotate.errors import ConfigError, InvalidIdError, ModelError, NotFoundError
from avel_annotate.model.checkpoint import load_checkpoint, save_checkpoint
from avel_annotate.model.config import DEFAULT_TAU, WEAK_LOSSES, Head, ModelConfig, Setting
from avel_annotate.model.data import AveH5Dataset, ClipDataset
from avel_annotate.model.evaluate import evaluate
from avel_annotate.model.network import CPSPNet
from avel_annotate.model.official import load_official
from avel_annotate.model.train import EpochRecord, TrainConfig, train
from avel_annotate.services.device import pick_device
from avel_annotate.services.feature_cache import cache_folder, packed_dataset
from avel_annotate.services.store import store_session
from avel_annotate.services.training_data import FeatureFileDataset
from avel_annotate.store import models as q
from avel_annotate.store.clips import category_names
from avel_annotate.store.tables import ModelVersion

log = logging.getLogger(__name__)

WEIGHTS = "weights.pt"
VARIANTS = ("cpsp-fully", "cpsp-weakly", "psp-fully")


def version_dir(settings: Settings, name: str) -> Path:
    if not is_safe_name(name):
        raise InvalidIdError(
            f"model version name {name!r} is not allowed",
            "use letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return settings.models_dir / name


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


@dataclass(frozen=True)
class VersionInfo:
    name: str
    source: str
    variant: str | None
    path: str
    is_default: bool
    created_at: str
    n_categories: int
    data_snapshot: dict[str, Any]
    metrics: dict[str, Any]
    parent: str | None


def _info(v: ModelVersion, names: dict[int, str]) -> VersionInfo:
    return VersionInfo(
        name=v.name,
        source=v.source,
        variant=v.variant,
        path=v.path,
        is_default=v.is_default,
        created_at=v.created_at.isoformat(timespec="seconds"),
        n_categories=len(json.loads(v.categories)),
        data_snapshot=json.loads(v.data_snapshot or "{}"),
        metrics=json.loads(v.metrics or "{}"),
        parent=names.get(v.parent_id) if v.parent_id else None,
    )


def list_versions(settings: Settings) -> list[VersionInfo]:
    with store_session(settings) as session:
        versions = q.all_versions(session)
        names = {v.id: v.name for v in versions}
        return [_info(v, names) for v in versions]


def set_default_version(settings: Settings, name: str) -> VersionInfo:
    with store_session(settings) as session:
        version = _require(session, name)
        q.set_default(session, version)
        return _info(version, {})


def _require(session: Any, name: str) -> ModelVersion:
    version = q.get_version(session, name)
    if version is None:
        known = [v.name for v in q.all_versions(session)]
        raise NotFoundError(
            f"model version {name!r} is not registered",
            f"known versions: {', '.join(known) or 'none'}; see `avel models list`",
        )
    return version


@dataclass(frozen=True)
class LoadedModel:
    name: str
    model: CPSPNet
    categories: list[str]


def stored_path(settings: Settings, folder: Path) -> str:
    """A version folder as the store records it: relative to the data dir when inside it, so a
    copied or moved data dir still finds its models."""
    try:
        return str(folder.resolve().relative_to(settings.data_dir.resolve()))
    except ValueError:
        return str(folder)


def version_folder(settings: Settings, stored: str, name: str) -> Path:
    """The folder of a version from its stored path (relative: under this data dir). A row of an
    older version holds an absolute path into the data dir it was made in: when that is gone,
    the same version's folder in this data dir is used."""
    path = Path(stored)
    if not path.is_absolute():
        return settings.data_dir / path
    if not path.exists() and is_safe_name(name):
        here = settings.models_dir / name
        if here.is_dir():
            return here
    return path


def load_version(settings: Settings, name: str | None) -> LoadedModel:
    """The weights of a registered version (``None``: the default version)."""
    with store_session(settings) as session:
        version = _require(session, name) if name else q.default_version(session)
        if version is None:
            raise NotFoundError(
                "no default model version",
                "train one (`avel train`) or import one (`avel model import-official`)",
            )
        path, categories, vname = (
            version_folder(settings, version.path, version.name),
            json.loads(version.categories),
            version.name,
        )
    weights = path / WEIGHTS
    if not weights.is_file():
        raise ModelError(
            f"model version {vname}: weights file {weights} is missing",
            "weights are not tracked by git; copy them back or retrain",
        )
    model, _ = load_checkpoint(weights)
    return LoadedModel(vname, model, categories)


# ----------------------------------------------------------------------------------- training


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


def _ave_categories(root: Path, n: int) -> list[str]:
    """Class names of an AVE release: order of first appearance in Annotations.txt."""
    for candidate in (root / "Annotations.txt", root / "annotations.txt"):
        if candidate.is_file():
            names: list[str] = []
            for line in candidate.read_text(encoding="utf-8-sig").splitlines():
                parts = line.split("&")
                if len(parts) == 5 and parts[0] != "Category" and parts[0] not in names:
                    names.append(parts[0])
            if len(names) == n:
                return names
    return [f"class_{i}" for i in range(n)]


def pick_extractor(session: Any, extractor: str | None) -> str:
    from sqlalchemy import select

    from avel_annotate.store.tables import FeatureFile

    if extractor:
        return extractor
    names = sorted(set(session.scalars(select(FeatureFile.extractor).distinct())))
    if len(names) == 1:
        return names[0]
    raise ConfigError(
        "no feature files in the store"
        if not names
        else f"several feature kinds in the store: {', '.join(names)}",
        "run `avel features extract` first" if not names else "choose one with --features",
    )


def _store_datasets(
    settings: Settings,
    split: str,
    val_split: str,
    extractor: str | None,
    labels: str,
    allow_random: bool,
    feature_cache: bool = True,
) -> tuple[ClipDataset, ClipDataset, list[str], dict[str, Any]]:
    with store_session(settings) as session:
        name = pick_extractor(session, extractor)
        categories = category_names(session)
        train_items = q.labelled_features(session, split, name, labels)
        val_items = q.labelled_features(session, val_split, name, labels)
    what = "curated labels" if labels == "curated" else "list labels"
    if not train_items:
        raise ModelError(
            f"no clips of split {split!r} have {what} and {name} features",
            "annotate and pull (`avel annotate pull`), or extract features",
        )
    if not val_items:
        raise ModelError(
            f"no clips of split {val_split!r} have {what} and {name} features to select on",
            "assign a validation split (`avel split assign`) and label some of it",
        )
    if not categories:
        raise ModelError("the store has no categories", "import a clip list first")
    train_data = FeatureFileDataset(
        train_items, settings.data_dir, categories, allow_random=allow_random
    )
    val_data = FeatureFileDataset(
        val_items, settings.data_dir, categories, allow_random=allow_random
    )
    built: dict[str, bool] = {}
    if feature_cache:  # packed per (split, kind, labels); rebuilt only when inputs change
        packed = {}
        for which, data in ((split, train_data), (val_split, val_data)):
            folder = cache_folder(settings.features_dir, name, which, labels)
            packed[which], built[which] = packed_dataset(
                data, folder, show_progress=settings.progress
            )
        train_data_out: ClipDataset = packed[split]
        val_data_out: ClipDataset = packed[val_split]
    else:
        train_data_out, val_data_out = train_data, val_data
    snapshot = {
        "source": "store",
        "feature_cache": {k: "built" if v else "reused" for k, v in built.items()} or "off",
        "labels": labels,
        "features": name,
        "random_features": any(i.is_random for i in train_items),
        f"{split}_clips": len(train_data),
        f"{val_split}_clips": len(val_data),
        "label_sources": _count(i.label_source for i in train_items),
    }
    return train_data_out, val_data_out, categories, snapshot


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def _card(name: str, config: dict[str, Any], metrics: dict[str, Any]) -> str:
    snap = config["data"]
    val = metrics.get("val", {})
    lines = [
        f"# Model card: {name}",
        "",
        f"- Created: {config['created_at']} with avel-annotate {__version__}",
        f"- Architecture: CPSP, {config['model']['head']} head, "
        f"{config['model']['setting']} "
        f"supervision, tau {config['model']['tau']}, C = {config['model']['n_categories']}",
        f"- Training stages: {', '.join(config['train']['stages'])}; "
        f"seed {config['train']['seed']}",
        f"- Trained on: {config.get('device', 'unknown')}",
        f"- Data: {json.dumps(snap, sort_keys=True)}",
        f"- Validation segment accuracy: {val.get('accuracy', float('nan')):.4f}",
        f"- Registered checkpoint: the best of the last stage run, {metrics.get('best_stage')} "
        f"epoch {metrics.get('best_epoch')}",
        "",
    ]
    stage_best = metrics.get("stage_best") or {}
    if stage_best:
        lines += ["Best validation checkpoint of each stage (files under run/):", ""]
        lines += ["| stage | epoch | val segment accuracy | file |", "|---|---|---|---|"]
        lines += [
            f"| {st} | {b['epoch']} | {b['val_accuracy']:.4f} | run/best-{st}.pt |"
            for st, b in stage_best.items()
        ]
        lines += [""]
    if snap.get("random_features"):
        lines += ["**Trained on features from random weights: a demonstration, not a model.**", ""]
    lines += ["Categories (class index order):", ""]
    lines += [f"{i}. {c}" for i, c in enumerate(config["categories"])]
    return "\n".join(lines) + "\n"


def train_model(
    settings: Settings,
    *,
    name: str | None = None,
    split: str = "train",
    val_split: str = "val",
    setting: str = "fully",
    head: str = "event-category",
    stages: tuple[str, ...] = ("psp", "psa_s", "psa_v"),
    epochs: int | None = None,
    stage2_epochs: int | None = None,
    batch_size: int = 128,
    seed: int = 0,
    bf16: bool = False,
    from_ave_h5: Path | None = None,
    features: str | None = None,
    labels: str = "curated",
    allow_random_features: bool = False,
    make_default: bool = True,
    device: str | None = "auto",
    weak_loss: str = "bce",
    feature_cache: bool = True,
    on_epoch: Callable[[EpochRecord], None] | None = None,
) -> TrainReport:
    """Train and register a model version; re-running with the same name resumes."""
    if setting not in DEFAULT_TAU:
        raise ConfigError(f"unknown setting {setting!r}", "use fully or weakly")
    if labels not in ("curated", "list"):
        raise ConfigError(f"unknown label source {labels!r}", "use curated or list")
    device = pick_device(device)
    name = name or datetime.now(UTC).strftime("cpsp-%Y%m%d-%H%M%S")
    out = version_dir(settings, name)
    with store_session(settings) as session:
        if q.get_version(session, name) is not None:
            raise ConfigError(f"model version {name!r} already exists", "choose another --name")
        previous = q.default_version(session)
        prev_name = previous.name if previous else None
        prev_id = previous.id if previous else None
        prev_acc = (
            (json.loads(previous.metrics or "{}").get("val") or {}).get("accuracy")
            if previous
            else None
        )

    if from_ave_h5 is not None:
        train_data: ClipDataset = AveH5Dataset(from_ave_h5, "train")
        val_data: ClipDataset = AveH5Dataset(from_ave_h5, "val")
        categories = _ave_categories(from_ave_h5, train_data.n_categories)
        snapshot: dict[str, Any] = {
            "source": f"ave-h5:{from_ave_h5}",
            "train_clips": len(train_data),
            "val_clips": len(val_data),
        }
    else:
        train_data, val_data, categories, snapshot = _store_datasets(
            settings, split, val_split, features, labels, allow_random_features, feature_cache
        )

    if weak_loss not in WEAK_LOSSES:
        raise ConfigError(
            f"unknown weak loss {weak_loss!r}", f"use one of {', '.join(WEAK_LOSSES)}"
        )
    model_config = ModelConfig(
        n_categories=len(categories),
        head=cast(Head, head),
        setting=cast(Setting, setting),
        tau=DEFAULT_TAU[setting],
        weak_loss=weak_loss,
    )
    tc_args: dict[str, Any] = {
        "seed": seed,
        "stages": stages,
        "batch_size": batch_size,
        "bf16": bf16,
    }
    if epochs is not None:
        tc_args["psp_epochs"] = epochs
    if stage2_epochs is not None:
        tc_args.update(psa_s_epochs=stage2_epochs, psa_v_epochs=stage2_epochs)
    train_config = TrainConfig(**tc_args)
    started = time.perf_counter()
    result = train(
        model_config,
        train_data,
        val_data,
        out / "run",
        train_config,
        callback=on_epoch,
        resume=True,
        device=device,
    )
    seconds = time.perf_counter() - started
    if prev_name is not None:
        prev_acc = _score_on(settings, prev_name, categories, val_data, prev_acc)

    model, _ = load_checkpoint(result.best_checkpoint)
    save_checkpoint(out / WEIGHTS, model, {"version": name})
    config = {
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model_config.to_dict(),
        "train": train_config.to_dict(),
        "categories": categories,
        "data": snapshot,
        "device": device,
    }
    metrics = {
        "val": result.val_metrics,
        "previous": {"name": prev_name, "val_accuracy_same_clips": prev_acc},
        "best_stage": result.best_stage,
        "best_epoch": result.best_epoch,
        "stage_best": result.stage_best,
        "train_seconds": round(seconds, 1),
    }
    _write_json(out / "config.json", config)
    _write_json(out / "metrics.json", metrics)
    (out / "card.md").write_text(_card(name, config, metrics))
    with store_session(settings) as session:
        q.add_version(
            session,
            make_default=make_default,
            name=name,
            source="trained",
            variant=f"{head}-{setting}",
            path=stored_path(settings, out),
            config=json.dumps(config),
            categories=json.dumps(categories),
            metrics=json.dumps(metrics),
            data_snapshot=json.dumps(snapshot),
            parent_id=prev_id,
        )
    return TrainReport(
        name=name,
        path=str(out),
        source="trained",
        n_train=len(train_data),
        n_val=len(val_data),
        n_categories=len(categories),
        best_stage=result.best_stage,
        best_epoch=result.best_epoch,
        best_val_accuracy=result.best_val_accuracy,
        previous=prev_name,
        previous_val_accuracy=prev_acc,
        is_default=make_default,
        seconds=round(seconds, 1),
        val_metrics=result.val_metrics,
        device=device,
        stage_best=result.stage_best,
    )


def _score_on(
    settings: Settings,
    name: str,
    categories: list[str],
    data: ClipDataset,
    fallback: float | None,
) -> float | None:
    """The accuracy of version ``name`` on ``data``, so a new version is compared on the same
    validation clips; its recorded accuracy when it cannot run on them (other categories)."""
    try:
        previous = load_version(settings, name)
    except (ModelError, NotFoundError) as e:
        log.warning("cannot score previous version %s: %s", name, e.one_line())
        return fallback
    if previous.categories != categories:
        return fallback
    return float(evaluate(previous.model, data).report.accuracy)


# --------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class EvalReport:
    model: str
    split: str
    n_clips: int
    metrics: dict[str, Any]
    saved_to: str


def evaluate_model(
    settings: Settings,
    name: str | None,
    split: str = "test",
    *,
    from_ave_h5: Path | None = None,
    features: str | None = None,
    labels: str = "curated",
    allow_random_features: bool = False,
) -> EvalReport:
    """Score a model version on a split and save the metrics with the version."""
    loaded = load_version(settings, name)
    if from_ave_h5 is not None:
        data: ClipDataset = AveH5Dataset(from_ave_h5, split)
    else:
        with store_session(settings) as session:
            extractor = pick_extractor(session, features)
            items = q.labelled_features(session, split, extractor, labels)
        if not items:
            raise ModelError(
                f"no clips of split {split!r} have {labels} labels and {extractor} features",
                "label and extract features for that split first",
            )
        data = FeatureFileDataset(
            items, settings.data_dir, loaded.categories, allow_random=allow_random_features
        )
    if data.n_categories != loaded.model.config.n_categories:
        raise ModelError(
            f"model {loaded.name} has {loaded.model.config.n_categories} categories, the data "
            f"{data.n_categories}",
            "evaluate on data labelled with the model's category list",
        )
    result = evaluate(loaded.model, data)
    metrics = result.report.to_dict()
    key = f"{split}" if from_ave_h5 is None else f"{split}@ave-h5"
    path = settings.models_dir / loaded.name / f"eval-{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_json(path, {"split": split, "n_clips": len(data), "metrics": metrics})
    with store_session(settings) as session:
        q.set_metrics(session, _require(session, loaded.name), key, metrics)
    return EvalReport(loaded.name, split, len(data), metrics, str(path))


# ------------------------------------------------------------------------------ official import


@dataclass(frozen=True)
class ImportOfficialReport:
    name: str
    variant: str
    n_categories: int
    path: str
    categories_from: str
    is_default: bool


def import_official(
    settings: Settings,
    path: Path,
    variant: str,
    name: str,
    *,
    categories_file: Path | None = None,
    make_default: bool = True,
) -> ImportOfficialReport:
    """Register an authors' checkpoint (``cpsp-fully``, ``cpsp-weakly``, ``psp-fully``)."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}", f"use one of {', '.join(VARIANTS)}")
    out = version_dir(settings, name)
    model = load_official(path, variant, dtype=None)
    n = model.config.n_categories
    with store_session(settings) as session:
        if q.get_version(session, name) is not None:
            raise ConfigError(f"model version {name!r} already exists", "choose another --name")
        store_names = category_names(session)
    if categories_file is not None:
        categories = [
            line.strip() for line in categories_file.read_text().splitlines() if line.strip()
        ]
        source = str(categories_file)
        if len(categories) != n:
            raise ConfigError(
                f"{categories_file}: {len(categories)} names, the checkpoint has {n} categories",
                "list one category per line, in class index order",
            )
    elif len(store_names) == n:
        categories, source = store_names, "store"
    else:
        raise ConfigError(
            f"the checkpoint has {n} categories and the store {len(store_names)}",
            "import the matching clip list first (AVE: Annotations.txt), or pass --categories",
        )
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out / WEIGHTS, model.float(), {"version": name, "official": str(path)})
    config = {
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model.config.to_dict(),
        "train": {"stages": ["official"], "seed": None},
        "categories": categories,
        "data": {"source": f"official checkpoint {path.name}", "variant": variant},
    }
    _write_json(out / "config.json", config)
    (out / "card.md").write_text(_card(name, config, {}))
    with store_session(settings) as session:
        q.add_version(
            session,
            make_default=make_default,
            name=name,
            source="official",
            variant=variant,
            path=stored_path(settings, out),
            config=json.dumps(config),
            categories=json.dumps(categories),
            metrics=None,
            data_snapshot=json.dumps(config["data"]),
            parent_id=None,
        )
    return ImportOfficialReport(name, variant, n, str(out), source, make_default)

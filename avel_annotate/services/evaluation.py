"""`avel evaluate` and `avel model import-official`: score a registered version on a split, and
register the authors' released checkpoints as versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from avel_annotate.config import Settings
from avel_annotate.errors import ConfigError, ModelError
from avel_annotate.model.checkpoint import save_checkpoint
from avel_annotate.model.data import AveH5Dataset, ClipDataset
from avel_annotate.model.evaluate import evaluate
from avel_annotate.model.official import load_official
from avel_annotate.services.model_registry import (
    WEIGHTS,
    LoadedModel,
    NewVersion,
    load_version,
    pick_extractor,
    register_version,
    require_new_name,
    require_version,
    version_dir,
    write_json,
    write_version_files,
)
from avel_annotate.services.training_data import feature_file_dataset
from avel_annotate.store import models as q
from avel_annotate.store.clips import category_names
from avel_annotate.store.database import Store

VARIANTS = ("cpsp-fully", "cpsp-weakly", "psp-fully")


@dataclass(frozen=True)
class EvalReport:
    model: str
    split: str
    n_clips: int
    metrics: dict[str, Any]
    saved_to: str


@dataclass(frozen=True)
class EvalOptions:
    """What `avel evaluate` scores a version on (the CLI's defaults)."""

    split: str = "test"
    from_ave_h5: Path | None = None  # an AVE h5 release instead of the store
    features: str | None = None  # feature kind (default: the store's only one)
    labels: str = "curated"  # curated | list
    allow_random_features: bool = False


def _store_split(
    store: Store, settings: Settings, loaded: LoadedModel, o: EvalOptions
) -> ClipDataset:
    with store.session() as session:
        extractor = pick_extractor(session, o.features)
        items = q.labelled_features(session, o.split, extractor, o.labels)
    if not items:
        raise ModelError(
            f"no clips of split {o.split!r} have {o.labels} labels and {extractor} features",
            "label and extract features for that split first",
        )
    return feature_file_dataset(
        items, settings.data_dir, loaded.categories, allow_random=o.allow_random_features
    )


def evaluate_model(
    store: Store, settings: Settings, name: str | None, options: EvalOptions | None = None
) -> EvalReport:
    """Score a model version (``None``: the default) on a split and save the metrics with it."""
    o = options or EvalOptions()
    loaded = load_version(store, settings, name)
    if o.from_ave_h5 is not None:
        data: ClipDataset = AveH5Dataset(o.from_ave_h5, o.split)
    else:
        data = _store_split(store, settings, loaded, o)
    if data.n_categories != loaded.model.config.n_categories:
        raise ModelError(
            f"model {loaded.name} has {loaded.model.config.n_categories} categories, the data "
            f"{data.n_categories}",
            "evaluate on data labelled with the model's category list",
        )
    metrics = evaluate(loaded.model, data).report.to_dict()
    key = f"{o.split}" if o.from_ave_h5 is None else f"{o.split}@ave-h5"
    path = settings.models_dir / loaded.name / f"eval-{o.split}.json"
    write_json(path, {"split": o.split, "n_clips": len(data), "metrics": metrics})
    with store.session() as session:
        q.set_metrics(session, require_version(session, loaded.name), key, metrics)
    return EvalReport(loaded.name, o.split, len(data), metrics, str(path))


@dataclass(frozen=True)
class ImportOfficialReport:
    name: str
    variant: str
    n_categories: int
    path: str
    categories_from: str
    is_default: bool


def _official_categories(
    store_names: list[str], n: int, categories_file: Path | None
) -> tuple[list[str], str]:
    """Class names for an ``n``-class checkpoint and where they came from: the file given (one
    per line, class index order), else the store's categories when their count matches."""
    if categories_file is not None:
        text = categories_file.read_text()
        categories = [line.strip() for line in text.splitlines() if line.strip()]
        if len(categories) != n:
            raise ConfigError(
                f"{categories_file}: {len(categories)} names, the checkpoint has {n} categories",
                "list one category per line, in class index order",
            )
        return categories, str(categories_file)
    if len(store_names) == n:
        return store_names, "store"
    raise ConfigError(
        f"the checkpoint has {n} categories and the store {len(store_names)}",
        "import the matching clip list first (AVE: Annotations.txt), or pass --categories",
    )


def import_official(
    store: Store,
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
    with store.session() as session:
        require_new_name(session, name)
        store_names = category_names(session)
    categories, source = _official_categories(store_names, n, categories_file)
    save_checkpoint(out / WEIGHTS, model.float(), {"version": name, "official": str(path)})
    data = {"source": f"official checkpoint {path.name}", "variant": variant}
    config = {
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": model.config.to_dict(),
        "train": {"stages": ["official"], "seed": None},
        "categories": categories,
        "data": data,
    }
    write_version_files(out, name, config, None)
    new = NewVersion(name, "official", variant, out, config, categories, None, data)
    register_version(store, settings, new, make_default=make_default)
    return ImportOfficialReport(name, variant, n, str(out), source, make_default)

"""The model registry: versions, their folders, the default, loading weights, registering.

A model version is a folder ``<models-dir>/<name>/`` holding ``config.json`` (model config,
training recipe, category names, data snapshot), ``metrics.json``, ``card.md`` and the weights
``weights.pt`` (plus ``run/`` with the resumable training state), and a ``model_version`` row.
The newest trained or imported version becomes the default for pre-labelling unless told not to.
Training (``services.training``), evaluation and import (``services.evaluation``) register
through :func:`register_version`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avel_annotate import __version__, fileio
from avel_annotate.config import Settings
from avel_annotate.domain.ids import is_safe_name
from avel_annotate.domain.model_card import render_card
from avel_annotate.errors import ConfigError, InvalidIdError, ModelError, NotFoundError
from avel_annotate.model.checkpoint import load_checkpoint
from avel_annotate.model.network import CPSPNet
from avel_annotate.store import models as q
from avel_annotate.store.database import Session, Store
from avel_annotate.store.tables import ModelVersion

WEIGHTS = "weights.pt"


def version_dir(settings: Settings, name: str) -> Path:
    if not is_safe_name(name):
        raise InvalidIdError(
            f"model version name {name!r} is not allowed",
            "use letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    return settings.models_dir / name


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


def list_versions(store: Store) -> list[VersionInfo]:
    with store.session() as session:
        versions = q.all_versions(session)
        names = {v.id: v.name for v in versions}
        return [_info(v, names) for v in versions]


def set_default_version(store: Store, name: str) -> VersionInfo:
    with store.session() as session:
        version = require_version(session, name)
        q.set_default(session, version)
        return _info(version, {})


def require_version(session: Session, name: str) -> ModelVersion:
    version = q.get_version(session, name)
    if version is None:
        known = [v.name for v in q.all_versions(session)]
        raise NotFoundError(
            f"model version {name!r} is not registered",
            f"known versions: {', '.join(known) or 'none'}; see `avel models list`",
        )
    return version


def require_new_name(session: Session, name: str) -> None:
    if q.get_version(session, name) is not None:
        raise ConfigError(f"model version {name!r} already exists", "choose another --name")


def pick_extractor(session: Session, extractor: str | None) -> str:
    """The feature kind to use: the one asked for, else the store's only one."""
    if extractor:
        return extractor
    names = q.feature_kinds(session)
    if len(names) == 1:
        return names[0]
    raise ConfigError(
        "no feature files in the store"
        if not names
        else f"several feature kinds in the store: {', '.join(names)}",
        "run `avel features extract` first" if not names else "choose one with --features",
    )


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


@dataclass(frozen=True)
class LoadedModel:
    name: str
    model: CPSPNet
    categories: list[str]


def load_version(store: Store, settings: Settings, name: str | None) -> LoadedModel:
    """The weights of a registered version (``None``: the default version)."""
    with store.session() as session:
        version = require_version(session, name) if name else q.default_version(session)
        if version is None:
            raise NotFoundError(
                "no default model version",
                "train one (`avel train`) or import one (`avel model import-official`)",
            )
        path = version_folder(settings, version.path, version.name)
        categories, vname = json.loads(version.categories), version.name
    weights = path / WEIGHTS
    if not weights.is_file():
        raise ModelError(
            f"model version {vname}: weights file {weights} is missing",
            "weights are not tracked by git; copy them back or retrain",
        )
    model, _ = load_checkpoint(weights)
    return LoadedModel(vname, model, categories)


def write_json(path: Path, data: Any) -> None:
    fileio.write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_version_files(
    out: Path, name: str, config: dict[str, Any], metrics: dict[str, Any] | None
) -> None:
    """``config.json``, ``metrics.json`` (a trained version) and ``card.md``, each atomically."""
    write_json(out / "config.json", config)
    if metrics is not None:
        write_json(out / "metrics.json", metrics)
    fileio.write_text(out / "card.md", render_card(name, config, metrics or {}, __version__))


@dataclass(frozen=True)
class NewVersion:
    """What the registry records of a new version (its files are already written)."""

    name: str
    source: str  # trained | official
    variant: str
    folder: Path
    config: dict[str, Any]
    categories: list[str]
    metrics: dict[str, Any] | None
    data_snapshot: dict[str, Any]
    parent: str | None = None


def register_version(
    store: Store, settings: Settings, new: NewVersion, *, make_default: bool
) -> None:
    """Add the version's row (making it the default if asked): one short unit of work."""
    with store.session() as session:
        parent = q.get_version(session, new.parent) if new.parent else None
        q.add_version(
            session,
            make_default=make_default,
            name=new.name,
            source=new.source,
            variant=new.variant,
            path=stored_path(settings, new.folder),
            config=json.dumps(new.config),
            categories=json.dumps(new.categories),
            metrics=json.dumps(new.metrics) if new.metrics is not None else None,
            data_snapshot=json.dumps(new.data_snapshot),
            parent_id=parent.id if parent else None,
        )

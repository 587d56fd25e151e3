"""Two-stage CPSP training (Sec. 6.1, Table 5), deterministic and resumable.

Stage ``psp``: all training clips, L_fully (Eq. 11) or L_weak (Eq. 13), Adam 1e-3, MultiStepLR.
Stage ``psa_s``: from the best psp weights, + lambda2 L_spsa on D_bg, Adam 1e-4 (fully only).
Stage ``psa_v``: from the best previous weights, + lambda3/4 L_vpsa on D_ae, Adam 1e-5.
This is CPSP "sepa". SSPSP (Eq. 15), when the model config asks for it, joins the stages after
the first (the paper trains plain PSP first). Every epoch is scored on the validation split; each
stage starts from the best checkpoint of the stage before, and the result (``best.pt``, what a
caller registers) is the best validation checkpoint of the *last* stage run, so a "CPSP" result
is never a PSP-stage model in disguise; the per-stage bests stay in ``best-<stage>.pt``. The
recipe itself (``TrainConfig``, the stage table) is ``model.recipe``.

``out_dir`` holds ``train_state.pt`` (everything needed to resume: weights, optimiser,
scheduler, the CPU and every CUDA random state as tensors, history; rewritten atomically each
epoch and read back with ``weights_only=True``, so a planted file cannot run code),
``best-<stage>.pt`` and ``best.pt`` (checkpoints with their config). Calling ``train`` again on
the same folder resumes after the last finished epoch and gives the same weights as an
uninterrupted run.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avel_annotate import fileio
from avel_annotate.errors import ModelError
from avel_annotate.model.checkpoint import atomic_torch_save, load_checkpoint, save_checkpoint
from avel_annotate.model.config import ModelConfig
from avel_annotate.model.data import ClipDataset, batch_indices, iter_batches, split_ae_bg
from avel_annotate.model.evaluate import autocast_context, evaluate
from avel_annotate.model.losses import compute_losses
from avel_annotate.model.network import CPSPNet
from avel_annotate.model.recipe import StageSpec, TrainConfig

logger = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"
BEST_FILE = "best.pt"


@dataclass
class EpochRecord:
    stage: str
    epoch: int
    losses: dict[str, float]
    val_accuracy: float
    lr: float
    seconds: float
    best: bool


@dataclass
class TrainResult:
    best_checkpoint: Path
    best_stage: str
    best_epoch: int
    best_val_accuracy: float
    val_metrics: dict[str, Any]
    stage_best: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[EpochRecord] = field(default_factory=list)


ProgressCallback = Callable[[EpochRecord], None]


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)  # seeds every CUDA device too
    np.random.seed(seed % 2**32)


def rng_state() -> dict[str, Any]:
    """The CPU and every CUDA device's random state, as tensors (``weights_only`` loadable)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"cpu": torch.get_rng_state(), "cuda": list(cuda)}


def set_rng_state(state: dict[str, Any], where: Path) -> None:
    torch.set_rng_state(state["cpu"])
    cuda = list(state.get("cuda") or [])
    if not cuda:
        return
    if torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(cuda)
    else:
        logger.warning(
            "%s was saved with %d CUDA device(s), this machine has %d: dropout after the resume "
            "will not repeat the interrupted run", where, len(cuda),
            torch.cuda.device_count() if torch.cuda.is_available() else 0,
        )  # fmt: skip


def load_train_state(path: Path) -> dict[str, Any]:
    """Read a resume state with ``weights_only=True``: tensors and plain containers only, so a
    planted pickle cannot run code; anything else is a one-line ``ModelError``."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError for code, others for a damaged file
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ModelError(
            f"{path} is not a training state written by avel-annotate (refused to load it: "
            f"{first})",
            hint="delete that file (training restarts from scratch) or train under another --name",
        ) from e
    keys = ("signature", "stage_index", "epoch", "history", "stage_best", "model", "rng")
    if not isinstance(saved, dict) or any(k not in saved for k in keys):
        raise ModelError(
            f"{path} is not a training state written by this version of avel-annotate",
            hint="delete that file (training restarts from scratch) or train under another --name",
        )
    return saved


def _positions(subset: str, train_data: ClipDataset, background: int) -> np.ndarray:
    if subset == "all":
        return np.arange(len(train_data))
    ae, bg = split_ae_bg(train_data.labels(), background)
    return ae if subset == "ae" else bg


def _initial_model(model_config: ModelConfig, init_checkpoint: str | Path | None) -> CPSPNet:
    model = CPSPNet(model_config)
    if init_checkpoint is not None:
        init_model, _ = load_checkpoint(init_checkpoint)
        if init_model.config != model_config:
            raise ModelError(
                f"init checkpoint {init_checkpoint} was built with another model config",
                hint="use the model config stored in that checkpoint",
            )
        model.load_state_dict(init_model.state_dict())
    return model


@dataclass
class _Run:
    """One ``train`` call as it goes: the model, the resumable state and where it is saved."""

    model: CPSPNet
    out: Path
    tc: TrainConfig
    stages: list[StageSpec]
    state: dict[str, Any]
    saved: dict[str, Any] | None = None  # the state read at resume, until its stage is done
    callback: ProgressCallback | None = None

    @property
    def state_path(self) -> Path:
        return self.out / STATE_FILE

    def save_state(self, optimizer: dict[str, Any], scheduler: dict[str, Any]) -> None:
        atomic_torch_save(
            {**self.state, "model": self.model.state_dict(), "optimizer": optimizer,
             "scheduler": scheduler, "rng": rng_state()},
            self.state_path,
        )  # fmt: skip


def _resume(run: _Run, signature: dict[str, Any]) -> None:
    """Load the saved state of an interrupted run into ``run`` (same config only)."""
    saved = load_train_state(run.state_path)
    if saved.get("signature") != signature:
        raise ModelError(
            f"{run.state_path} belongs to a run with another config",
            hint="use a fresh output folder, or pass resume=False to start over here",
        )
    for key in ("stage_index", "epoch", "history", "stage_best"):
        run.state[key] = saved[key]
    run.model.load_state_dict(saved["model"])
    set_rng_state(saved["rng"], run.state_path)
    run.saved = saved
    logger.info("resuming %s after stage %d epoch %d", run.out, run.state["stage_index"],
                run.state["epoch"])  # fmt: skip


def _stage_setup(
    run: _Run, si: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.MultiStepLR, int]:
    """The stage's optimiser, scheduler and first epoch: a fresh stage starts from the best
    checkpoint of the one before; a resumed one from the saved optimiser and scheduler."""
    spec, state, saved = run.stages[si], run.state, run.saved
    fresh_stage = not (saved is not None and si == state["stage_index"] and state["epoch"] >= 0)
    if fresh_stage and si > 0:
        best_prev, _ = load_checkpoint(run.out / f"best-{run.stages[si - 1].name}.pt")
        run.model.load_state_dict(best_prev.state_dict())  # copies onto the model's device
    optimizer = torch.optim.Adam(run.model.parameters(), lr=spec.lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(spec.milestones), gamma=spec.gamma
    )
    if fresh_stage or saved is None:
        return optimizer, scheduler, 0
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return optimizer, scheduler, state["epoch"] + 1


def _end_epoch(
    run: _Run, record: EpochRecord, val_data: ClipDataset, si: int, saved: tuple[Any, Any]
) -> None:
    """Score the epoch on ``val_data``, keep the stage's best checkpoint, save the state, then
    tell the callback (the state is on disk by then)."""
    spec, tc, state = run.stages[si], run.tc, run.state
    result = evaluate(run.model, val_data, batch_size=tc.eval_batch_size, bf16=tc.bf16)
    acc = result.report.accuracy
    record.val_accuracy = acc
    best_here = state["stage_best"].get(spec.name)
    if best_here is None or acc > best_here["val_accuracy"]:
        record.best = True
        entry = {"stage": spec.name, "epoch": record.epoch, "val_accuracy": acc,
                 "val_metrics": result.report.to_dict()}  # fmt: skip
        meta = {**entry, "train_config": tc.to_dict()}
        save_checkpoint(run.out / f"best-{spec.name}.pt", run.model, meta)
        state["stage_best"][spec.name] = entry
    state["history"].append(asdict(record))
    state["stage_index"], state["epoch"] = si, record.epoch
    run.save_state(*saved)
    logger.info("%s epoch %d/%d loss %.4f val acc %.4f%s", spec.name, record.epoch + 1,
                spec.epochs, record.losses.get("total", float("nan")), acc,
                " (best)" if record.best else "")  # fmt: skip
    if run.callback is not None:
        run.callback(record)


def _run_stage(run: _Run, si: int, train_data: ClipDataset, val_data: ClipDataset) -> None:
    spec = run.stages[si]
    optimizer, scheduler, start_epoch = _stage_setup(run, si)
    positions = _positions(spec.subset, train_data, run.model.config.background)
    if len(positions) == 0:
        raise ModelError(
            f"stage {spec.name} needs {spec.subset!r} training clips and there are none",
            hint="drop the stage from TrainConfig.stages",
        )
    for epoch in range(start_epoch, spec.epochs):
        record = _run_epoch(run.model, optimizer, train_data, positions, spec, run.tc, si, epoch)
        scheduler.step()
        _end_epoch(run, record, val_data, si, (optimizer.state_dict(), scheduler.state_dict()))
    run.saved = None
    # next stage starts fresh; mark this one finished for a resume between stages
    run.state["stage_index"], run.state["epoch"] = si + 1, -1
    if si + 1 < len(run.stages):
        run.save_state({}, {})


def _result(run: _Run) -> TrainResult:
    """The registered result: the best of the last stage run (not of all stages)."""
    last = run.stages[-1].name
    best = run.state["stage_best"][last]
    _copy_atomic(run.out / f"best-{last}.pt", run.out / BEST_FILE)
    return TrainResult(
        best_checkpoint=run.out / BEST_FILE,
        best_stage=best["stage"],
        best_epoch=best["epoch"],
        best_val_accuracy=best["val_accuracy"],
        val_metrics=best["val_metrics"],
        stage_best=run.state["stage_best"],
        history=[EpochRecord(**h) for h in run.state["history"]],
    )


def train(
    model_config: ModelConfig,
    train_data: ClipDataset,
    val_data: ClipDataset,
    out_dir: str | Path,
    train_config: TrainConfig | None = None,
    *,
    callback: ProgressCallback | None = None,
    resume: bool = True,
    init_checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Train CPSP in stages, selecting on ``val_data``; see the module docstring.

    ``init_checkpoint`` starts the first stage from an existing checkpoint (e.g. skip ``psp``
    and run only ``psa_s``/``psa_v``). ``callback`` is called after each epoch, once the
    state is safely on disk; raising from it stops training (resume later).
    """
    tc = train_config or TrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if train_data.n_categories != model_config.n_categories:
        raise ModelError(
            f"training data has {train_data.n_categories} categories, model config "
            f"{model_config.n_categories}",
            hint="set n_categories of the model config from the data's category table",
        )
    stages = tc.stage_specs(model_config)
    if not stages:
        raise ModelError("no training stage has epochs > 0", hint="set psp_epochs etc.")
    signature = {"model": model_config.to_dict(), "train": tc.to_dict()}
    _seed_all(tc.seed)
    # epoch: the last finished epoch of stage_index
    state = {"signature": signature, "stage_index": 0, "epoch": -1, "history": [],
             "stage_best": {}}  # fmt: skip
    run = _Run(_initial_model(model_config, init_checkpoint), out, tc, stages, state,
               callback=callback)  # fmt: skip
    if resume and run.state_path.is_file():
        _resume(run, signature)
    run.model.to(device)
    for si in range(run.state["stage_index"], len(stages)):
        _run_stage(run, si, train_data, val_data)
    return _result(run)


def _copy_atomic(src: Path, dst: Path) -> None:
    with fileio.atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _run_epoch(
    model: CPSPNet,
    optimizer: torch.optim.Optimizer,
    data: ClipDataset,
    positions: np.ndarray,
    spec: StageSpec,
    tc: TrainConfig,
    stage_index: int,
    epoch: int,
) -> EpochRecord:
    model.train()
    t0 = time.perf_counter()
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    seed = (tc.seed, stage_index, epoch)
    plan = getattr(data, "epoch_batches", None)  # packed caches shuffle by runs of rows
    if plan is not None:
        batches = plan(positions, tc.batch_size, seed=seed)
    else:
        batches = batch_indices(positions, tc.batch_size, shuffle=True, seed=seed)
    visual_dtype = torch.bfloat16 if tc.bf16 else dtype  # one cast, straight from storage
    sums: dict[str, float] = {}
    n = 0
    for batch in iter_batches(data, batches, prefetch=tc.prefetch):
        loss = train_step(
            model,
            optimizer,
            batch.audio.to(device, dtype),
            batch.visual.to(device, visual_dtype),
            batch.segment_labels.to(device),
            batch.category.to(device),
            spec.terms,
            tc,
        )
        for k, v in loss.items():
            sums[k] = sums.get(k, 0.0) + v * len(batch.index)
        n += len(batch.index)
    return EpochRecord(
        stage=spec.name,
        epoch=epoch,
        losses={k: v / max(n, 1) for k, v in sums.items()},
        val_accuracy=float("nan"),
        lr=float(optimizer.param_groups[0]["lr"]),
        seconds=time.perf_counter() - t0,
        best=False,
    )


def train_step(
    model: CPSPNet,
    optimizer: torch.optim.Optimizer,
    audio: torch.Tensor,
    visual: torch.Tensor,
    segment_labels: torch.Tensor,
    category: torch.Tensor,
    terms: tuple[str, ...],
    tc: TrainConfig,
) -> dict[str, float]:
    """One forward + backward + clip + Adam step; returns the loss values."""
    optimizer.zero_grad(set_to_none=True)
    if tc.bf16:  # cast the big visual tensor once, before autocast copies it per use
        visual = visual.to(torch.bfloat16)
    with autocast_context(tc.bf16, audio.device.type):
        out = model(audio=audio, video=visual)
    if tc.bf16:  # losses in float32
        for name in ("fusion", "av_similarity", "v_psp", "a_psp", "event_logits",
                     "category_logits", "segment_logits", "video_logits"):  # fmt: skip
            value = getattr(out, name)
            if value is not None:
                setattr(out, name, value.float())
    losses = compute_losses(out, segment_labels, category, model.config, terms)
    losses["total"].backward()
    if tc.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
    optimizer.step()
    return {k: float(v.detach()) for k, v in losses.items()}

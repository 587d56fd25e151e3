"""Weakly supervised head loss: BCE on the softmax (paper Eq. 13) vs MultiLabelSoftMarginLoss on
the softmax (the authors' weakly script), and stage-1 milestones 5/20/40 vs 10/20/30, on the
seeded synthetic benchmark (``avel_annotate.model.synthetic``). Test segment accuracy of the
registered (last-stage best) checkpoint, per seed; writes a JSON next to the others.

    python benchmarks/bench_weak_loss.py OUT.json [--epochs 15] [--seeds 0 1] [--train-clips 240]
        [--losses bce multilabel-soft-margin] [--milestones 5/20/40 10/20/30]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from avel_annotate.model import ModelConfig
from avel_annotate.model.checkpoint import load_checkpoint
from avel_annotate.model.data import AveH5Dataset
from avel_annotate.model.evaluate import evaluate
from avel_annotate.model.synthetic import SyntheticSpec, write_synthetic_ave
from avel_annotate.model.train import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--stage2-epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--train-clips", type=int, default=240)
    parser.add_argument("--losses", nargs="+", default=["bce", "multilabel-soft-margin"])
    parser.add_argument("--milestones", nargs="+", default=["5/20/40", "10/20/30"])
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        n = args.train_clips
        spec = SyntheticSpec(n_train=n, n_val=n // 4, n_test=n // 4, seed=11)
        root = write_synthetic_ave(Path(tmp) / "ave", spec)
        data = {s: AveH5Dataset(root, s) for s in ("train", "val", "test")}
        labels = data["test"].labels()
        majority = float(np.bincount(labels.ravel()).max() / labels.size)
        for loss in args.losses:
            for text in args.milestones:
                milestones = tuple(int(m) for m in text.split("/"))
                key = f"{loss} milestones {'/'.join(map(str, milestones))}"
                for seed in args.seeds:
                    tc = TrainConfig(seed=seed, batch_size=32, psp_epochs=args.epochs,
                                     psa_v_epochs=args.stage2_epochs, milestones=milestones,
                                     bf16=True)  # fmt: skip
                    mc = ModelConfig(n_categories=4, setting="weakly", weak_loss=loss)
                    out = Path(tmp) / f"{loss}-{milestones[0]}-{seed}"
                    result = train(mc, data["train"], data["val"], out, tc)
                    model, _ = load_checkpoint(result.best_checkpoint)
                    acc = evaluate(model, data["test"]).report.accuracy
                    results.setdefault(key, []).append(round(acc, 4))
                    print(key, seed, round(acc, 4), flush=True)
    report = {
        "benchmark": f"synthetic AVE layout, SyntheticSpec(seed=11): {n}/{n // 4}/{n // 4} clips, "
        "4 categories",
        "setting": "weakly, event-category head",
        "epochs": {"psp": args.epochs, "psa_v": args.stage2_epochs, "batch": 32, "bf16": True},
        "majority_baseline": round(majority, 4),
        "test_accuracy_by_seed": results,
        "mean": {k: round(float(np.mean(v)), 4) for k, v in results.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["mean"], indent=2))


if __name__ == "__main__":
    main()

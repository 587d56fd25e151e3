"""Reproduce the AVE rows of the paper (Table 5) from the authors' released feature files.

``python -m avel_annotate.model.reproduce AVE_DIR OUT_DIR [--setting fully|weakly|both]``
trains PSP then CPSP ("sepa") per setting on ``train_order.h5``, selects on ``val_order.h5``,
evaluates the stage-best checkpoints on ``test_order.h5`` and writes ``OUT_DIR/ave_table.json``.
Re-running resumes unfinished runs.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from avel_annotate import fileio
from avel_annotate.model.checkpoint import load_checkpoint
from avel_annotate.model.config import DEFAULT_TAU, ModelConfig
from avel_annotate.model.data import AveH5Dataset
from avel_annotate.model.evaluate import evaluate
from avel_annotate.model.train import ProgressCallback, TrainConfig, train

logger = logging.getLogger(__name__)

PAPER_AVE = {"fully": {"psp": 77.8, "cpsp": 78.6}, "weakly": {"psp": 73.5, "cpsp": 74.2}}


def reproduce_ave(
    ave_dir: str | Path,
    out_dir: str | Path,
    settings: tuple[str, ...] = ("fully", "weakly"),
    train_config: TrainConfig | None = None,
    callback: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Train and test each setting; returns (and writes) the table as a dict."""
    out = Path(out_dir)
    data = {s: AveH5Dataset(ave_dir, s) for s in ("train", "val", "test")}
    table: dict[str, Any] = {}
    for setting in settings:
        config = ModelConfig(
            n_categories=data["train"].n_categories,
            setting=setting,  # type: ignore[arg-type]
            tau=DEFAULT_TAU[setting],
        )
        result = train(config, data["train"], data["val"], out / setting, train_config,
                       callback=callback)  # fmt: skip
        rows: dict[str, Any] = {}
        stages = list(result.stage_best)
        for label, stage in (("psp", stages[0]), ("cpsp", stages[-1])):
            model, _ = load_checkpoint(out / setting / f"best-{stage}.pt")
            report = evaluate(model, data["test"]).report
            rows[label] = {
                "stage": stage,
                "val_accuracy": result.stage_best[stage]["val_accuracy"],
                "test_accuracy": report.accuracy,
                "paper_accuracy": PAPER_AVE[setting][label] / 100,
                "test_metrics": report.to_dict(),
            }
            logger.info("AVE %s %s: test accuracy %.4f (paper %.3f)", setting, label,
                        report.accuracy, PAPER_AVE[setting][label] / 100)  # fmt: skip
        table[setting] = rows
    fileio.write_text(out / "ave_table.json", json.dumps(table, indent=1) + "\n")
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ave_dir", help="folder with the AVE release h5 files")
    parser.add_argument("out_dir")
    parser.add_argument("--setting", choices=["fully", "weakly", "both"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CPU AMX)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = ("fully", "weakly") if args.setting == "both" else (args.setting,)
    reproduce_ave(args.ave_dir, args.out_dir, settings, TrainConfig(seed=args.seed, bf16=args.bf16))


if __name__ == "__main__":
    main()

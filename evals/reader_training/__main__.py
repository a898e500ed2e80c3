"""`python -m evals.reader_training {train,export}`: see `make reader`."""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
from pathlib import Path

from evals.reader_training.train import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.reader_training")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("train", help="train (or resume) the reading model")
    run.add_argument(
        "--data", type=Path, required=True, help="the shared data folder (holds reader/)"
    )
    run.add_argument("--out", type=Path, default=Path(".proofdesk/reader-training"))
    run.add_argument("--epochs", type=int, default=2)
    run.add_argument("--max-minutes", type=float, default=170.0)
    run.add_argument("--seed", type=int, default=13)
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--batch-size", type=int, default=32)
    run.add_argument("--freeze-layers", type=int, default=3)
    run.add_argument("--max-length", type=int, default=64)
    run.add_argument("--log-every", type=int, default=25)
    run.add_argument("--val-pairs", type=int, default=1500)
    run.add_argument(
        "--clapnq-train-repeat",
        type=int,
        default=2,
        help="times per epoch the CLAP NQ train pairs are seen (0: left out)",
    )
    exp = sub.add_parser("export", help="export the trained model to ONNX (float32 and int8)")
    exp.add_argument("--out", type=Path, default=Path(".proofdesk/reader-training"))
    exp.add_argument("--target", type=Path, default=Path("retrieval/reader_model"))
    exp.add_argument("--data", type=Path, required=True)
    clap = sub.add_parser("clapnq", help="AUC of answerable vs unanswerable CLAP NQ dev questions")
    clap.add_argument("--data", type=Path, required=True)
    clap.add_argument("--model", type=Path, default=Path("retrieval/reader_model"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout)
    if args.command == "train":
        reader_dir = args.data / "reader"
        if not reader_dir.is_dir():
            parser.error(f"no reader/ folder under {args.data}")
        summary = train(
            TrainConfig(
                data_dir=reader_dir,
                out_dir=args.out,
                seed=args.seed,
                epochs=args.epochs,
                max_minutes=args.max_minutes,
                threads=args.threads,
                batch_size=args.batch_size,
                freeze_layers=args.freeze_layers,
                max_length=args.max_length,
                log_every=args.log_every,
                val_pairs=args.val_pairs,
                clapnq_train_repeat=args.clapnq_train_repeat,
            )
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        logging.info("peak resident memory %.0f MB; %d steps", peak, summary["steps"])
        return 0
    if args.command == "clapnq":
        from evals.reader_training.clapnq_auc import clapnq_scores, load_clapnq, report
        from evals.reader_training.onnx_scoring import cosine_scorer, onnx_scorer

        rows = clapnq_scores(
            load_clapnq(args.data),
            sentence_scores=onnx_scorer(args.model, max_length=64),
            passage_scores=onnx_scorer(args.model, max_length=160),
            cosines=cosine_scorer(),
        )
        print(json.dumps(report(rows), indent=2))
        return 0
    from evals.reader_training.export import export_model

    export_model(args.out, args.target, args.data / "reader")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

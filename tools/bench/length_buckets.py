"""Length buckets for variable-length training (issue 22's "sequence bucketing" lever): the same
epochs of a BLSTM enhancement model on var-mode records of clips of many lengths, batched in the
written order (each batch padded to its longest clip) and in length buckets
(``make_dataset(..., length_buckets=...)``, ``avse enhancement training --length_buckets``).

Records: ``--clips`` clips of random landmark and spectrogram features (the timing does not
depend on their values), lengths drawn uniformly from ``--min_seconds`` to ``--max_seconds`` (LRS3's
utterances run from under 1 s to about 6 s). Printed: padded frames per real frame, and the
seconds of the last of ``--epochs`` epochs (the first ones also compile the recurrences for new
padded lengths), for both batchings, measured in one run.

``PYTHONPATH=. python tools/bench/length_buckets.py`` (paper size); ``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

FRAME_SAMPLES = 160  # 100 spectrogram frames per second at 16 kHz


def write_clips(folder, clips, min_seconds, max_seconds, seed):
    """``clips`` var-mode enhancement records of random features; returns the manifest path and the lengths."""
    import numpy as np

    from avse_tf.records import write_records
    from avse_tf.systems.landmark_enhancement.pipeline import enhancement_schema

    rng = np.random.default_rng(seed)
    lengths = rng.integers(int(min_seconds * 100), int(max_seconds * 100) + 1, clips)

    def examples():
        for index, frames in enumerate(lengths):
            target = (0.1 * rng.standard_normal(frames * FRAME_SAMPLES)).astype(np.float32)
            interferers = (0.1 * rng.standard_normal(frames * FRAME_SAMPLES)).astype(np.float32)
            yield {"target_wav": target, "interferers_wav": interferers, "mixture_wav": target + interferers,
                   "tbm": (rng.random((frames, 257)) > 0.5).astype(np.float32),
                   "video_features": rng.standard_normal((frames, 136)).astype(np.float32),
                   "mixed_spectrogram": rng.standard_normal((frames, 257)).astype(np.float32),
                   "target_path": f"t{index}.wav", "mixture_path": f"m{index}.wav", "speaker": "s1",
                   "utterance": f"u{index}"}

    manifest = write_records(os.path.join(folder, "TRAINING_SET"), "records", enhancement_schema("var"), examples(),
                             examples_per_shard=32)
    return manifest, [int(length) for length in lengths]


def quantile_boundaries(lengths, buckets):
    """``buckets - 1`` boundaries at the length quantiles: buckets of about equal clip counts."""
    import numpy as np

    cuts = np.quantile(lengths, np.linspace(0, 1, buckets + 1)[1:-1])
    return sorted({int(cut) for cut in cuts})


def padded_frames(manifest, batch_size, length_buckets):
    from avse_tf.records import make_dataset

    total = 0
    for batch in make_dataset(manifest, batch_size=batch_size, shuffle=True, seed=0, features=["tbm"],
                              length_buckets=length_buckets):
        total += int(batch["tbm"].shape[0]) * int(batch["tbm"].shape[1])
    return total


def epoch_seconds(manifest, model_name, batch_size, epochs, length_buckets, hidden_units, layers):
    """Seconds of the last of ``epochs`` training epochs (a fresh model per batching)."""
    import keras

    from avse_tf.systems.landmark_enhancement.pipeline import make_model_dataset
    from avse_tf.systems.landmark_enhancement.train import build_and_compile

    keras.utils.set_random_seed(0)
    model = build_and_compile(model_name, hidden_units=hidden_units, layers=layers)
    data = make_model_dataset(os.path.dirname(manifest), model_name, batch_size, shuffle=True, seed=0,
                              length_buckets=length_buckets)
    seconds = []
    for _ in range(epochs):
        begin = time.perf_counter()
        model.fit(data, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - begin)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="av_concat_mask")
    parser.add_argument("--clips", type=int, default=96)
    parser.add_argument("--min_seconds", type=float, default=1.0)
    parser.add_argument("--max_seconds", type=float, default=6.0)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--buckets", type=int, default=4, help="length buckets (boundaries at length quantiles)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small model and few clips (a smoke run)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    hidden_units, layers = (250, None) if not args.quick else (16, 1)
    if args.quick:
        args.clips, args.epochs, args.max_seconds = min(args.clips, 24), min(args.epochs, 2), min(args.max_seconds, 3.0)

    with tempfile.TemporaryDirectory() as folder:
        manifest, lengths = write_clips(folder, args.clips, args.min_seconds, args.max_seconds, seed=0)
        boundaries = quantile_boundaries(lengths, args.buckets)
        rows = {}
        for label, buckets in (("padded to the batch's longest", None), (f"length buckets {boundaries}", boundaries)):
            frames = padded_frames(manifest, args.batch_size, buckets)
            seconds = epoch_seconds(manifest, args.model, args.batch_size, args.epochs, buckets, hidden_units, layers)
            rows[label] = {"padded_per_real_frame": frames / sum(lengths), "epoch_seconds": seconds}
    plain, bucketed = rows.values()
    result = {"model": args.model, "clips": args.clips, "seconds": [args.min_seconds, args.max_seconds],
              "batch_size": args.batch_size, "epochs": args.epochs, "quick": args.quick, "rows": rows,
              "speedup_last_epoch": plain["epoch_seconds"][-1] / bucketed["epoch_seconds"][-1]}
    print(f"{args.model}{' (quick)' if args.quick else ''}, {args.clips} clips of {args.min_seconds:g}-"
          f"{args.max_seconds:g} s, batch {args.batch_size}, {args.epochs} epochs")
    print(f"{'batching':<40} {'padded / real frames':>21} {'last epoch s':>13} {'all epochs s':>30}")
    for label, row in rows.items():
        print(f"{label:<40} {row['padded_per_real_frame']:>21.3f} {row['epoch_seconds'][-1]:>13.2f} "
              f"{' '.join(f'{value:.2f}' for value in row['epoch_seconds']):>30}")
    print(f"last epoch, plain / bucketed: {result['speedup_last_epoch']:.2f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

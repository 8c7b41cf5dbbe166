"""PSNR, SSIM and lip-sync correlations of generated faces on held-out clips."""

from __future__ import annotations

import logging
import os

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.metrics.lipsync import measured_mouth_opening
from avse_tf.systems.speech2vid.pipeline import (
    identity_frames,
    load_features,
    mfcc_windows,
    num_video_frames,
    read_meta,
)
from avse_tf.systems.speech2vid.predict import generate, model_options
from avse_tf.systems.speech2vid.train import load_model

log = logging.getLogger(__name__)


def evaluate(model_path, processed_dir, output_dir, deblur_path=None, split="test", max_clips=None, grid_clips=3,
             shape_predictor=None, batch_size=32) -> dict:
    """Score the generator on the held-out clips of ``split`` (default the unseen test utterances).

    Per clip: K evenly spaced stills of the clip are the identity; the clip's audio drives the
    model; metrics against the real aligned frames: PSNR (of the clip: pooled squared error) and
    SSIM (mean over frames), both on the frames that are not stills, ``lip_corr`` (correlation of the
    generated and the real mouth opening, both measured by dlib on the crops) and ``env_corr``
    (correlation of the generated opening with the speech envelope). Rows: the model (and with
    ``deblur_path`` the refined output), the identity still repeated (baseline), the model driven
    by another clip's audio (control: sync must drop), and the real frames (reference). Writes
    ``metrics.csv``, ``table.txt`` and ``frames.png`` (real vs generated) in ``output_dir``.
    """
    import csv

    from avse_tf.metrics import correlation, format_table, psnr, speech_envelope, ssim
    from avse_tf.plots import frame_grid, save_png
    from avse_tf.utils import atomic_path, atomic_write_text

    meta = read_meta(processed_dir)
    clips = meta["splits"].get(split) or []
    if not clips:
        raise UserInputError(f"{processed_dir} has no {split} clips; prepare_data with a non-zero --test_fraction")
    clips = clips[:max_clips] if max_clips else clips
    model = load_model(model_path, "model")
    deblur = load_model(deblur_path, "deblurring model") if deblur_path else None
    size, count, _ = model_options(model)
    if size != meta["image_size"]:
        raise UserInputError(f"model {model_path} makes {size}-pixel faces, {processed_dir} holds {meta['image_size']}")
    data = [load_features(os.path.join(meta["features_dir"], clip)) for clip in clips]
    methods = ["speech2vid"] + (["speech2vid + deblur"] if deblur is not None else []) + [
        "identity still (baseline)", "mismatched audio (control)", "real frames (reference)"]
    rows, grid = [], []
    for index, (clip, item) in enumerate(zip(clips, data)):
        frames = min(len(item["faces"]), num_video_frames(item["audio"].size))
        real = item["faces"][:frames]
        stills = real[identity_frames(frames, count)]
        windows = mfcc_windows(item["mfcc"], frames)
        other = data[(index + 1) % len(data)] if len(data) > 1 else None
        outputs = {"speech2vid": generate(model, windows, stills, batch_size)}
        if deblur is not None:
            outputs["speech2vid + deblur"] = generate(model, windows, stills, batch_size, deblur)
        outputs["identity still (baseline)"] = np.repeat(stills[:1].astype(np.float32) / 255.0, frames, 0)
        if other is not None:
            other_windows = mfcc_windows(other["mfcc"], num_video_frames(other["audio"].size))
            other_windows = other_windows[np.minimum(np.arange(frames), len(other_windows) - 1)]
            outputs["mismatched audio (control)"] = generate(model, other_windows, stills, batch_size)
        outputs["real frames (reference)"] = real.astype(np.float32) / 255.0
        reference = real.astype(np.float32) / 255.0
        # PSNR / SSIM on the frames that are not identity stills (a still equals its own frame).
        scored = np.setdiff1d(np.arange(frames), identity_frames(frames, count))
        points = item["landmarks"][:frames]
        real_opening = measured_mouth_opening(real, points, shape_predictor=shape_predictor)
        envelope = speech_envelope(item["audio"], frames, SAMPLE_RATE, FPS)
        for method, faces in outputs.items():
            opening = measured_mouth_opening(faces, points, shape_predictor=shape_predictor)
            is_real = method.startswith("real")
            rows.append({"method": method, "clip": clip,
                         "psnr": None if is_real else psnr(reference[scored], faces[scored], per_image=False),
                         "ssim": None if is_real else float(np.mean(ssim(reference[scored], faces[scored]))),
                         "lip_corr": correlation(opening, real_opening), "env_corr": correlation(opening, envelope)})
        if index < grid_clips:
            grid.append((os.path.splitext(clip)[0], real, outputs[methods[1] if deblur is not None else methods[0]]))
    os.makedirs(output_dir, exist_ok=True)
    columns = ["psnr", "ssim", "lip_corr", "env_corr"]
    summary = {}
    for method in methods:
        mine = [row for row in rows if row["method"] == method]
        if mine:
            summary[method] = {column: (None if mine[0][column] is None else float(np.mean([r[column] for r in mine])))
                               for column in columns}
            summary[method]["clips"] = len(mine)
    with atomic_path(os.path.join(output_dir, "metrics.csv")) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["method", "clip", *columns])
            writer.writeheader()
            writer.writerows(rows)
    table = format_table(summary, columns=[*columns, "clips"], label="method")
    atomic_write_text(os.path.join(output_dir, "table.txt"), table + "\n")
    save_png(os.path.join(output_dir, "frames.png"),
             frame_grid([(name, [("real", real), ("generated", generated)]) for name, real, generated in grid]))
    return {"table": table, "summary": summary, "rows": rows, "grid": os.path.join(output_dir, "frames.png")}

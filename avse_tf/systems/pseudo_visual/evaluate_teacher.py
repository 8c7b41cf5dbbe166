"""How well the teacher lip-syncs and the expert judges sync, on held-out clips (Hegde et al. show
the teacher's lips qualitatively; this is the library's measured check).

Lip sync (per clip of ``split``, then the mean): the teacher generates every frame from the clip's
clean mel windows with a FIXED face - the clip's first frame, masked and as the reference, as the
student's distillation calls :func:`~avse_tf.systems.pseudo_visual.teacher.teacher_lips` - and the
inner-lip opening of its faces (:func:`avse_tf.metrics.lipsync.measured_mouth_opening`) is
correlated with the speech envelope (RMS per video frame). Rows: the teacher; the fixed face
repeated (still-face baseline: a constant opening, correlation 0 by construction, kept as the
floor); the real frames (reference). The face box is fixed for these crops (:func:`crop_face_box`):
a crop is the detector's box padded at the bottom by ``BOTTOM_PAD_FRACTION`` of its height, then
resized to 96 x 96, so the box is the whole width and the top ``96 / (1 + pad)`` rows.

Expert, on the held-out clips' in-sync and shifted pairs
(:func:`~avse_tf.systems.pseudo_visual.pipeline.make_expert_dataset`), shifted pairs at least
``min_shift`` frames away (default 5: the 5-frame face window then shares no frame with the mel's
0.2 s, so they are really out of sync; training may use nearer shifts). Two figures:

* accuracy: the sync probability > 0.5 against the label, pair by pair (the expert's own
  decision, as its training logs it);
* pairwise separation: for each mel window, the in-sync face window scores above the shifted one
  (ties count half). This is how a sync judge is used - SyncNet picks the offset of the highest
  score - and it does not depend on where 0.5 falls.
"""

from __future__ import annotations

import json
import os

import numpy as np

from avse_tf.constants import FPS, SAMPLE_RATE

EVAL_MIN_SHIFT = 5
METHODS = ("teacher", "still face (baseline)", "real frames (reference)")


def crop_face_box(size=None):
    """``(left, top, right, bottom)`` of the detector's face box in a Wav2Lip-style crop (module doc)."""
    from avse_tf.systems.pseudo_visual.faces import BOTTOM_PAD_FRACTION, FACE_SIZE

    size = FACE_SIZE if size is None else int(size)
    return (0.0, 0.0, float(size), size / (1.0 + BOTTOM_PAD_FRACTION))


def held_out_clips(records, max_clips=None) -> list:
    """``[{"clip", "faces" uint8 [T, 96, 96, 3], "mel" [M, 80], "waveform" [S]}]`` of a record set."""
    from avse_tf.records import read_examples

    clips = []
    for example in read_examples(records):
        faces = np.frombuffer(example["faces"], np.uint8).reshape(-1, 96, 96, 3)
        clips.append({"clip": example["clip"].decode(), "faces": faces, "mel": np.asarray(example["mel"], np.float32),
                      "waveform": np.frombuffer(example["waveform_pcm16"], "<i2").astype(np.float32) / 32768.0})
        if max_clips and len(clips) >= int(max_clips):
            break
    return clips


def lipsync_correlations(teacher, clips, batch_size=64, shape_predictor=None) -> dict:
    """``{"rows": [{"method", "clip", "env_corr"}], "summary": {method: {"env_corr", "clips"}}}`` (module doc)."""
    from avse_tf.metrics import correlation, speech_envelope
    from avse_tf.metrics.lipsync import measured_mouth_opening
    from avse_tf.systems.pseudo_visual.features import mel_windows
    from avse_tf.systems.pseudo_visual.teacher import teacher_lips

    box, rows = crop_face_box(), []
    for clip in clips:
        frames = len(clip["faces"])
        fixed = np.repeat(clip["faces"][:1].astype(np.float32) / 255.0, frames, 0)
        outputs = {"teacher": teacher_lips(teacher, mel_windows(clip["mel"], frames), fixed, batch_size),
                   "still face (baseline)": fixed, "real frames (reference)": clip["faces"]}
        envelope = speech_envelope(clip["waveform"], frames, SAMPLE_RATE, FPS)
        for method, faces in outputs.items():
            opening = measured_mouth_opening(faces, box=box, shape_predictor=shape_predictor)
            rows.append({"method": method, "clip": clip["clip"], "env_corr": correlation(opening, envelope)})
    summary = {method: {"env_corr": float(np.mean([r["env_corr"] for r in rows if r["method"] == method])),
                        "clips": len(clips)} for method in METHODS}
    return {"rows": rows, "summary": summary}


def expert_accuracy(expert, records, min_shift=EVAL_MIN_SHIFT, passes=4, batch_size=32, seed=0) -> dict:
    """``{"accuracy", "in_sync_accuracy", "shifted_accuracy", "pairwise_separation", "pairs",
    "min_shift"}``: ``passes`` random windows per clip, each an in-sync and a shifted pair of the same
    mel window (module doc)."""
    from avse_tf.systems.pseudo_visual.pipeline import make_expert_dataset

    labels, scores = [], []
    for batch in make_expert_dataset(records, batch_size, min_shift=min_shift, shuffle=False, seed=seed,
                                     repeat=True).take(_batches(records, passes, batch_size)):
        scores.append(np.asarray(expert.sync_probability(batch["mel"], batch["faces"], training=False)))
        labels.append(batch["label"].numpy())
    labels, scores = np.concatenate(labels), np.concatenate(scores)
    correct = (scores > 0.5) == (labels > 0.5)
    # the reader yields each window's in-sync pair, then its shifted pair (same mel)
    whole = labels.size // 2 * 2
    in_sync, shifted = scores[0:whole:2], scores[1:whole:2]
    if not (np.all(labels[0:whole:2] > 0.5) and np.all(labels[1:whole:2] < 0.5)):
        raise AssertionError("expert pairs out of order: in-sync, shifted expected")
    separation = np.mean((in_sync > shifted) + 0.5 * (in_sync == shifted))
    return {"accuracy": float(correct.mean()), "in_sync_accuracy": float(correct[labels > 0.5].mean()),
            "shifted_accuracy": float(correct[labels < 0.5].mean()), "pairwise_separation": float(separation),
            "pairs": int(labels.size), "min_shift": int(min_shift)}


def _batches(records, passes, batch_size) -> int:
    from avse_tf.records.reader import load_manifest

    return max(1, 2 * load_manifest(records).num_examples * int(passes) // int(batch_size))


def evaluate_teacher(teacher_checkpoint, preprocessed_root, split="unseen", expert_checkpoint=None, max_clips=None,
                     min_shift=EVAL_MIN_SHIFT, passes=4, output_dir=None, shape_predictor=None) -> dict:
    """Both measures on ``split``'s clips (module doc); ``expert_checkpoint`` ``None``: the expert
    frozen inside the teacher. Returns ``{"lipsync": ..., "expert": ..., "table": str}``; with
    ``output_dir``, writes ``teacher_eval.json`` and ``table.txt`` there."""
    from avse_tf.metrics import format_table
    from avse_tf.systems.pseudo_visual.train_teacher import load_checkpoint, split_records
    from avse_tf.utils import atomic_write_text

    records = split_records(preprocessed_root, split)
    teacher = load_checkpoint(teacher_checkpoint)
    expert = load_checkpoint(expert_checkpoint, "lip-sync expert", "--syncnet_checkpoint_path") \
        if expert_checkpoint else teacher.expert
    lipsync = lipsync_correlations(teacher, held_out_clips(records, max_clips), shape_predictor=shape_predictor)
    result = {"split": split, "lipsync": lipsync["summary"], "rows": lipsync["rows"]}
    if expert is not None:
        result["expert"] = expert_accuracy(expert, records, min_shift, passes)
    table = format_table(lipsync["summary"], columns=["env_corr", "clips"], label="method")
    if "expert" in result:
        e = result["expert"]
        table += (f"\nexpert accuracy {e['accuracy']:.3f} (in sync {e['in_sync_accuracy']:.3f}, shifted "
                  f"{e['shifted_accuracy']:.3f}; {e['pairs']} pairs, shifts >= {e['min_shift']} frames); "
                  f"pairwise separation {e['pairwise_separation']:.3f}")
    result["table"] = table
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        atomic_write_text(os.path.join(output_dir, "teacher_eval.json"), json.dumps(result, indent=1) + "\n")
        atomic_write_text(os.path.join(output_dir, "table.txt"), table + "\n")
    return result

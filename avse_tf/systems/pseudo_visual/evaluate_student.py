"""What distillation is for (Hegde et al. WACV 2021 §3.2): from noisy speech, the student's lips
should be closer to the teacher's lips from the CLEAN speech than the teacher's own lips from the
same noisy speech.

Per held-out clip (a split of ``avse denoising preprocess``'s records, by default the unseen
speakers): the clean speech is mixed with a noise clip of the bank's held-out TEST kinds at
``snr_db`` (default 0 dB, the hardest of the paper's three), each clip with its own seeded noise
clip and offset. Lips for every video frame, all on the checkpoint's fixed face:

* ``teacher clean`` - the teacher on the clean mels: the reference;
* ``student noisy`` - the student on the noisy mels;
* ``teacher noisy`` - the teacher on the noisy mels: what the student has to beat.

Columns: ``l1`` (mean absolute pixel difference of the lower halves to the reference),
``opening_corr`` (correlation of the mouth opening, measured by dlib on the whole face: the fixed
face's upper half + the generated lower half, with the reference's opening), ``opening_l1`` (mean
absolute difference of the two openings, in units of the face size) and ``env_corr`` (correlation
of the opening with the clean speech envelope: the shared lip-sync measure). ``frames.png``: for
the first clips, rows of real lower faces, teacher clean, student noisy and teacher noisy.
"""

from __future__ import annotations

import os

import numpy as np

from avse_tf.errors import UserInputError
from avse_tf.systems.pseudo_visual.faces import FACE_SIZE

METHODS = ("student noisy", "teacher noisy", "teacher clean")
HALF = FACE_SIZE // 2


def held_out_noise(noise_data_root) -> list:
    """Waveforms of the bank's held-out test kinds (a plain folder: all its wavs)."""
    from avse_tf.systems.pseudo_visual.evaluate_denoiser import held_out_noise_kinds

    return [waveform for waveforms in held_out_noise_kinds(noise_data_root).values() for waveform in waveforms]


def full_faces(face, lower_halves) -> np.ndarray:
    """The fixed face's upper half over each generated lower half: ``[T, 96, 96, 3]`` in [0, 1]."""
    upper = np.broadcast_to(np.asarray(face, np.float32)[None, :HALF], (len(lower_halves), HALF, FACE_SIZE, 3))
    return np.concatenate([upper, np.asarray(lower_halves, np.float32)], axis=1)


def teacher_lower_halves(distillation, waveform, frames, batch_size=64) -> np.ndarray:
    """The teacher's lower halves ``[frames, 48, 96, 3]`` for ``waveform`` on the distillation's fixed
    face (its audio features: Wav2Lip's mel windows or Speech2Vid's MFCC windows)."""
    from avse_tf.systems.pseudo_visual.lipsync import speech_mel_windows
    from avse_tf.systems.pseudo_visual.speech2vid_teacher import MFCC_KEY, speech_mfcc_windows
    from avse_tf.systems.pseudo_visual.teacher import lower_half, teacher_lips

    faces = np.broadcast_to(np.asarray(distillation.face)[None], (frames, FACE_SIZE, FACE_SIZE, 3))
    windows = (speech_mfcc_windows(waveform, frames) if distillation.teacher_audio == MFCC_KEY
               else speech_mel_windows(waveform)[:frames])
    return lower_half(teacher_lips(distillation.teacher, windows, faces, batch_size))


def evaluate_student(checkpoint_dir, preprocessed_root, output_dir, split="unseen", snr_db=0.0, noise_data_root=None,
                     max_clips=None, grid_clips=2, seed=0, batch_size=64) -> dict:
    """Score (module doc); writes ``metrics.csv``, ``table.txt`` and ``frames.png`` into ``output_dir``
    and returns ``{"table", "means": {method: {column: value}}, "clips"}``."""
    import csv

    from avse_tf.data.noise import mix_at_snr
    from avse_tf.metrics import correlation, format_table, speech_envelope
    from avse_tf.metrics.lipsync import measured_mouth_opening
    from avse_tf.systems.pseudo_visual.evaluate_teacher import crop_face_box, held_out_clips
    from avse_tf.plots import frame_grid, save_png
    from avse_tf.systems.pseudo_visual.lipsync import speech_mel_windows, student_lips
    from avse_tf.systems.pseudo_visual.train_student import NOISE_BANK_FOLDER
    from avse_tf.systems.pseudo_visual.train_teacher import load_checkpoint, split_records
    from avse_tf.utils import atomic_path, atomic_write_text

    distillation = load_checkpoint(checkpoint_dir, "student checkpoint", "--checkpoint_path")
    face = np.asarray(distillation.face)
    noise = held_out_noise(noise_data_root or os.path.join(checkpoint_dir, NOISE_BANK_FOLDER))
    clips = held_out_clips(split_records(preprocessed_root, split), max_clips)
    if not clips:
        raise UserInputError(f"{preprocessed_root}: no clips in the {split} split")
    box = crop_face_box()
    rows, grid = [], []
    for index, clip in enumerate(clips):
        rng = np.random.default_rng([int(seed), index])
        clean = clip["waveform"]
        noisy, _ = mix_at_snr(clean, noise[int(rng.integers(len(noise)))], snr_db, rng)
        noisy_windows = speech_mel_windows(noisy)
        frames = min(len(clip["faces"]), len(noisy_windows))

        def teacher_half(waveform):
            return teacher_lower_halves(distillation, waveform, frames, batch_size)

        lips = {"teacher clean": teacher_half(clean), "teacher noisy": teacher_half(noisy),
                "student noisy": student_lips(distillation.student, noisy_windows[:frames], batch_size)}
        openings = {name: measured_mouth_opening(full_faces(face, halves), box=box) for name, halves in lips.items()}
        envelope = speech_envelope(clean, frames)
        reference = lips["teacher clean"]
        for name in METHODS:
            rows.append({"clip": clip["clip"], "method": name,
                         "l1": float(np.mean(np.abs(lips[name] - reference))),
                         "opening_corr": correlation(openings[name], openings["teacher clean"]),
                         "opening_l1": float(np.mean(np.abs(openings[name] - openings["teacher clean"]))),
                         "env_corr": correlation(openings[name], envelope)})
        if index < grid_clips:
            grid.append((clip["clip"], [("real", clip["faces"][:frames, HALF:]),
                                        *((name, lips[name]) for name in ("teacher clean", "student noisy",
                                                                          "teacher noisy"))]))
    columns = ("l1", "opening_corr", "opening_l1", "env_corr")
    means = {name: {column: float(np.mean([row[column] for row in rows if row["method"] == name]))
                    for column in columns} for name in METHODS}
    table = format_table(means, columns, label="lips (reference: teacher clean)")
    os.makedirs(output_dir, exist_ok=True)
    with atomic_path(os.path.join(output_dir, "metrics.csv")) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, ("clip", "method", *columns))
            writer.writeheader()
            writer.writerows(rows)
    header = (f"{split} split, {len(clips)} clips, held-out noise kinds at {snr_db:g} dB; reference: the teacher's "
              "lips from the clean speech")
    atomic_write_text(os.path.join(output_dir, "table.txt"), header + "\n" + table + "\n")
    save_png(os.path.join(output_dir, "frames.png"), frame_grid(grid))
    return {"table": header + "\n" + table, "means": means, "clips": len(clips)}


__all__ = ["evaluate_student", "teacher_lower_halves", "held_out_noise", "full_faces", "METHODS"]

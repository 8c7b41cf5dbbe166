"""The records of ``preprocess``: one example per clip, made from its folder (the decoded JPEG crops
and the mel of ``audio.wav``); schema :func:`avse_tf.systems.pseudo_visual.pipeline.pseudo_visual_schema`."""

from __future__ import annotations

import os

import numpy as np

from avse_tf.errors import UserInputError


def load_clip(preprocessed_root, name) -> dict:
    """``{"faces" [T, 96, 96, 3] uint8 RGB, "waveform" [640 T] float32}`` of one clip's folder."""
    import cv2

    from avse_tf.audio.io import load_audio
    from avse_tf.systems.pseudo_visual.preprocess import clip_folder

    folder = clip_folder(preprocessed_root, name)
    remedy = f"delete {folder} and its data/done/ marker and rerun preprocess"
    count = sum(1 for entry in os.listdir(folder) if entry.endswith(".jpg")) if os.path.isdir(folder) else 0
    if not count:
        raise UserInputError(f"no face crops for clip {name} in {folder}; {remedy}")
    faces = []
    for index in range(count):
        image = cv2.imread(os.path.join(folder, f"{index}.jpg"), cv2.IMREAD_COLOR)
        if image is None:
            raise UserInputError(f"face crop {os.path.join(folder, f'{index}.jpg')} is missing or damaged; {remedy}")
        faces.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    return {"faces": np.stack(faces), "waveform": load_audio(os.path.join(folder, "audio.wav"))}


def clip_example(name, speaker, split, arrays) -> dict:
    """One record (schema's field list) from :func:`load_clip`'s arrays."""
    from avse_tf.systems.pseudo_visual.features import wav2lip_mel

    faces = np.ascontiguousarray(arrays["faces"], np.uint8)
    waveform = np.asarray(arrays["waveform"], np.float32)
    pcm = np.clip(np.round(waveform * 32768.0), -32768, 32767).astype("<i2")  # the wav's own 16-bit values
    mel = wav2lip_mel(waveform)
    return {"clip": name, "speaker": speaker, "split": split, "video_frames": len(faces), "crop_size": faces.shape[1],
            "faces": faces.tobytes(), "waveform_pcm16": pcm.tobytes(), "mel": mel,
            "sequence_length": len(mel), "num_samples": waveform.size}

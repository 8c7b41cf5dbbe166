"""Benchmark cases of Speech2Vid (``tools/bench``; see :mod:`avse_tf.training.benchmark`): the
convolutional generator at paper size (a per-frame image model: no BLSTM targets, not streamed)
and its feature extraction."""

from __future__ import annotations

import os

from avse_tf.constants import SAMPLE_RATE
from avse_tf.training import benchmark

MFCC_WINDOW = (12, 35)  # MFCC coefficients x columns of one video frame's audio window
ENCODER_WIDTH = 0.5  # of the frozen face encoder of the content loss (the paper's encoder is wider)


def synthetic_batch(model, batch, frames, rng):
    size, count = model.image_size, model.num_identity
    inputs = {"mfcc": benchmark.standard_normal(rng, (batch, *MFCC_WINDOW)),
              "identity": benchmark.uniform(rng, (batch, size, size, 3 * count))}
    if model.masked_target:
        inputs["masked_target"] = benchmark.uniform(rng, (batch, size, size, 3))
    return inputs, {"face": benchmark.uniform(rng, (batch, size, size, 3))}, None


def compile_for_training(model):
    import keras

    from avse_tf.systems.speech2vid.model import (
        Speech2VidLoss,
        content_features,
        face_encoder,
    )

    # Never wider than the generator: --quick shrinks both.
    width = min(ENCODER_WIDTH, model.width)
    content = content_features(face_encoder(model.image_size, width=width))
    model.compile(keras.optimizers.Adam(1e-3), loss={"face": Speech2VidLoss(content, 1.0)})
    # The content loss runs the encoder on the real and the fake face and back to the fake one.
    return f"L1 + content loss (frozen face encoder, width {width:g}), Adam", (content,)


def features_setup(data, quick):
    size = 64 if quick else 112

    def extract(clip):
        from avse_tf.audio.io import load_audio
        from avse_tf.systems.speech2vid.pipeline import (
            compute_mfcc,
            mfcc_windows,
            num_video_frames,
        )
        from avse_tf.video.face_alignment import align_faces
        from avse_tf.video.io import read_video
        from avse_tf.video.landmarks import load_landmarks_txt

        speaker, utterance = clip
        frames, _ = read_video(os.path.join(data["corpus"], speaker, "video", utterance + ".mpg"))
        points = load_landmarks_txt(os.path.join(data["corpus"], speaker, "landmarks", utterance + ".txt"))
        align_faces(frames, points.reshape(-1, 68, 2), size)
        waveform = load_audio(os.path.join(data["corpus"], speaker, "audio", utterance + ".wav"), SAMPLE_RATE)
        mfcc_windows(compute_mfcc(waveform), num_video_frames(waveform.size))

    label = f"Speech2Vid features without landmarks (decode video, align {size}x{size} faces, MFCC windows)"
    return label, data["clips"][: 2 if quick else 4], extract


def bench_cases():
    case = benchmark.BenchCase("speech2vid", "speech2vid_voxceleb", synthetic_batch, compile_for_training,
                               clip_frames=None, size_keys=("image_size", "num_identity", "width"),
                               quick_overrides={"image_size": 64, "width": 0.25}, eager_warmup=True)
    # No untimed first call: decoding a clip's video (~0.3 s) dwarfs any first-call set-up.
    return case, benchmark.FeatureCase("features_speech2vid", features_setup, warmup=False)

"""How well dlib sees a synthetic corpus's face (shared by the English and other-language corpus tests)."""

import os

import numpy as np

from avse_tf.audio.io import load_audio
from avse_tf.video.io import read_video

FPS = 25


def audio_envelope(audio, num_frames: int, sample_rate: int = 16000, lag: float = 0.0):
    """RMS of ``audio`` per video frame. ``lag`` (seconds; the video behind the audio when
    positive): each frame gets the 10 ms envelope of the audio it shows, ``lag`` earlier."""
    if not lag:
        hop = sample_rate // FPS
        return np.sqrt(np.mean(audio[: num_frames * hop].reshape(num_frames, hop) ** 2, axis=1))
    hop = sample_rate // 100
    fine = np.sqrt(np.mean(audio[: audio.size // hop * hop].reshape(-1, hop) ** 2, axis=1))
    return np.interp((np.arange(num_frames) + 0.5) / FPS - lag, (np.arange(fine.size) + 0.5) / 100, fine)


def face_and_mouth(root, description, extractor=None, recorded_offsets=False):
    """``(detection rate, correlations)``: the fraction of frames where dlib's detector alone finds
    the face, and per utterance the correlation of the landmarks' inner-lip opening with the
    audio's RMS envelope per frame. ``recorded_offsets``: envelope frames shifted by each
    utterance's ``av_offset_ms`` (the camera renderer's deliberate audio-visual offset), so the
    correlation measures how the mouth follows the speech, not how far the take moved it."""
    from avse_tf.video.landmarks import LandmarkExtractor, mouth_opening

    extractor = extractor or LandmarkExtractor()
    found, total, correlations = 0, 0, []
    for speaker in description["speakers"]:
        for utterance_id in speaker["utterances"]:
            frames, _ = read_video(os.path.join(root, speaker["name"], "video", f"{utterance_id}.mpg"), grayscale=True)
            found += sum(extractor.detect(frame) is not None for frame in frames)
            total += len(frames)
            opening = mouth_opening(extractor.extract(frames).points)
            audio = load_audio(os.path.join(root, speaker["name"], "audio", f"{utterance_id}.wav"))
            lag = speaker.get("av_offset_ms", {}).get(utterance_id, 0.0) / 1000 if recorded_offsets else 0.0
            correlations.append(np.corrcoef(opening, audio_envelope(audio, len(frames), lag=lag))[0, 1])
    return found / total, correlations

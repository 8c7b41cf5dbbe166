"""Write a synthetic corpus in GRID's layout, so every system runs and is tested without GRID.

``DIR/s<k>/audio/<id>.wav`` (mono 16-bit PCM), ``DIR/s<k>/video/<id>.mpg`` (MPEG-1, 360x288,
25 fps, with the speech as MP2 sound track, like GRID's), ``DIR/s<k>/align/<id>.align``
(GRID word alignments), and ``DIR/synth_grid.json`` describing the speakers.

Each speaker has a voice no other speaker has (an espeak-ng variant, a vocal-tract-length warp,
pitch and speaking rate: :mod:`avse_tf.data.synth.voices`; ``voices="legacy"`` draws variants with
replacement) and a face identity; each utterance is a GRID sentence (or one of a GRID-like grammar
in Mandarin or Spanish: :mod:`avse_tf.data.synth.languages`) spoken after a random leading
silence inside a 3.0 s clip, filmed by the camera-like renderer (:mod:`avse_tf.data.synth.camera`:
audio-visual offset, coarticulation, blinks, head motion, lighting; ``video="legacy"``: the mouth
an exact, synchronous function of the phonemes). Every random choice comes from
``numpy.random.default_rng([seed, speaker, utterance])``, and audio and video encoding are
bit-exact, so the same arguments give the same bytes. Files that already exist are kept: an
interrupted run, started again, finishes the rest.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from avse_tf.audio.io import resample, write_audio
from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.data import grid
from avse_tf.data.synth.camera import VIDEO_MODES, CameraTake, camera_take, coarticulated_mouth_track, film
from avse_tf.data.synth.face import FaceIdentity, mouth_track, render_face
from avse_tf.data.synth.languages import get_language
from avse_tf.data.synth.speech import EspeakSynthesizer
from avse_tf.data.synth.voices import DISTINCT_VOICES, VOICE_MODES, speaker_voice
from avse_tf.utils import atomic_write_text, progress

MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "max", "steph")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "anika", "belinda")
NOISE_FLOOR_DBFS = -65.0  # GRID's booth is quiet, not digitally silent


@dataclasses.dataclass(frozen=True)
class SyntheticSpeaker:
    name: str
    female: bool
    voice: str
    pitch: int
    rate: int
    identity: FaceIdentity
    warp: float = 1.0
    language: str = "en"

    @classmethod
    def create(cls, seed: int, index: int, voices: str = "distinct", language: str = "en") -> SyntheticSpeaker:
        if voices not in VOICE_MODES:
            raise ValueError(f"voices must be one of {VOICE_MODES}, got {voices!r}")
        espeak_voice = get_language(language).espeak_voice
        rng = np.random.default_rng([seed, index])
        female = bool(index % 2 == 0)  # alternate, so any 2 consecutive speakers differ in sex
        variants = FEMALE_VARIANTS if female else MALE_VARIANTS
        voice = espeak_voice + "+" + variants[int(rng.integers(len(variants)))]  # drawn in both modes: same faces
        pitch, rate = int(rng.integers(35, 70)), int(rng.integers(115, 145))
        warp = 1.0
        if voices == "distinct":
            voice, warp, pitch, rate = speaker_voice(seed, index, espeak_voice)
        return cls(name=grid.speaker_name(index), female=female, voice=voice, pitch=pitch, rate=rate,
                   identity=FaceIdentity.random(rng, female=female), warp=warp, language=language)


def synthesize_utterance(synthesizer: EspeakSynthesizer, speaker: SyntheticSpeaker, words, rng,
                         sample_rate: int, clip_seconds: float, fps: float, take: CameraTake | None = None):
    """Audio (float32 at ``sample_rate``), video frames, and word intervals of one clip.

    ``take``: the camera-like renderer's recording conditions (:mod:`~avse_tf.data.synth.camera`);
    ``None`` renders the legacy video."""
    language = get_language(speaker.language)
    text = language.text(words)
    warp = float(speaker.warp)
    # The vocal-tract-length warp plays espeak's output ``warp`` times faster (resampling from
    # ``warp`` x its rate): every frequency, formants and f0, is scaled by ``warp``. espeak
    # speaks ``warp`` times slower to keep the speaker's rate, so the warp costs nothing extra.
    rate = round(speaker.rate / warp)
    while True:  # speed up rather than truncate a sentence that does not fit the clip
        utterance = synthesizer.synthesize(text, voice=speaker.voice, rate=rate, pitch=speaker.pitch, word_gap=2,
                                           ipa=language.ipa_phonemes)
        duration = utterance.waveform.size / utterance.sample_rate / warp
        if duration <= clip_seconds - 0.4 or rate > 400:
            break
        rate = int(rate * 1.15)
    num_samples = round(clip_seconds * sample_rate)
    speech = resample(utterance.waveform, utterance.sample_rate * warp, sample_rate)
    if warp != 1.0:
        utterance.phonemes = [(label, start / warp, end / warp) for label, start, end in utterance.phonemes]
        utterance.words = [(word, start / warp, end / warp) for word, start, end in utterance.words]
    speech *= rng.uniform(0.35, 0.6) / max(1e-6, float(np.abs(speech).max()))
    slack = max(0.0, clip_seconds - duration - 0.15)
    offset = float(rng.uniform(min(0.25, slack), max(min(0.25, slack), slack * 0.8)))
    audio = rng.normal(0.0, 10 ** (NOISE_FLOOR_DBFS / 20), num_samples).astype(np.float32)
    start = round(offset * sample_rate)
    length = min(speech.size, num_samples - start)
    audio[start:start + length] += speech[:length]

    num_frames = round(clip_seconds * fps)
    words_in_clip = [(word, start_s + offset, end_s + offset) for word, start_s, end_s in utterance.words]
    if take is not None:
        opening, width = coarticulated_mouth_track(utterance.phonemes, num_frames, fps, offset, take, language.code)
        centre = (speaker.identity.centre_x, speaker.identity.centre_y)
        frames = np.stack([film(render_face(speaker.identity, o, w, eyelid=take.eyelid[i]), take, i, centre)
                           for i, (o, w) in enumerate(zip(opening, width))])
        return audio, frames, words_in_clip
    opening, width = mouth_track(utterance.phonemes, num_frames, fps, offset, language=language.code)
    sway_phase = rng.uniform(0, 2 * np.pi, size=2)
    frames = np.stack([
        render_face(speaker.identity, o, w,
                    head_dx=1.5 * np.sin(2 * np.pi * 0.4 * i / fps + sway_phase[0]),
                    head_dy=1.0 * np.sin(2 * np.pi * 0.3 * i / fps + sway_phase[1]))
        for i, (o, w) in enumerate(zip(opening, width))
    ])
    return audio, frames, words_in_clip


def generate_grid_corpus(out_dir, speakers: int = 4, utterances: int = 6, seed: int = 0,
                         sample_rate: int = SAMPLE_RATE, clip_seconds: float = 3.0, fps: float = FPS,
                         first_speaker: int = 1, voices: str = "distinct", video: str = "camera",
                         language: str = "en") -> dict:
    """Write the corpus (see module doc); returns the description also saved as ``synth_grid.json``.

    ``voices``: ``"legacy"`` (each speaker draws one of 9 male / 7 female espeak variants with
    replacement, so speakers can share a voice; the corpus the model cards were measured on) or
    ``"distinct"`` (no two speakers share a voice: :func:`~avse_tf.data.synth.voices.speaker_voice`, up to
    :data:`DISTINCT_VOICES` speakers).

    ``video``: ``"camera"`` (audio-visual offset, coarticulation, blinks, head motion, lighting and
    sensor noise: :mod:`~avse_tf.data.synth.camera`; each utterance's offset is recorded as
    ``av_offset_ms`` of its speaker) or ``"legacy"`` (the mouth an exact, synchronous function of
    the phonemes, a 1.5 px sway; the renderer the model cards were first measured on).

    ``language``: ``"en"`` (GRID), ``"cmn"`` (Mandarin) or ``"es"`` (Spanish): the grammar, ids,
    espeak-ng voices and visemes of :mod:`~avse_tf.data.synth.languages`; another code raises
    :class:`~avse_tf.errors.LanguageError`. Recorded as ``language`` in the description unless
    English (an English corpus's description stays byte-identical).
    """
    from avse_tf.video.io import write_video

    language = get_language(language).code  # a LanguageError before any work
    grammar = get_language(language).grammar
    if speakers < 1 or utterances < 1:
        raise ValueError("need at least one speaker and one utterance")
    if voices not in VOICE_MODES:
        raise ValueError(f"voices must be one of {VOICE_MODES}, got {voices!r}")
    if video not in VIDEO_MODES:
        raise ValueError(f"video must be one of {VIDEO_MODES}, got {video!r}")
    if voices == "distinct" and first_speaker + speakers - 1 > DISTINCT_VOICES:
        raise ValueError(f"voices='distinct' makes {DISTINCT_VOICES} distinct voices; speakers s{first_speaker}.."
                         f"s{first_speaker + speakers - 1} would repeat some")
    synthesizer = EspeakSynthesizer()
    description = {
        "generator": "avse_tf synth-grid", "seed": seed, "sample_rate": sample_rate,
        "clip_seconds": clip_seconds, "fps": fps, "frame_size": [360, 288], "speakers": [],
    }
    if voices != "legacy":  # a legacy corpus's description stays byte-identical
        description["voices"] = voices
    if video != "legacy":
        description["video"] = video
    if language != "en":
        description["language"] = language
    jobs = []
    for index in range(first_speaker, first_speaker + speakers):
        speaker = SyntheticSpeaker.create(seed, index, voices, language)
        ids, used, offsets = [], set(), {}
        for number in range(utterances):
            rng = np.random.default_rng([seed, index, number])
            words = grammar.random_sentence(rng)
            while grammar.sentence_to_id(words) in used:
                words = grammar.random_sentence(rng)
            used.add(grammar.sentence_to_id(words))
            ids.append(grammar.sentence_to_id(words))
            take = None
            if video == "camera":  # its own generator: the audio's draws stay those of the legacy corpus
                take = camera_take(np.random.default_rng([seed, index, number, 15]), round(clip_seconds * fps), fps)
                offsets[ids[-1]] = round(1000 * take.av_offset, 1)
            jobs.append((speaker, words, rng, take))
        entry = {"name": speaker.name, "sex": "female" if speaker.female else "male", "voice": speaker.voice,
                 "pitch": speaker.pitch, "rate_wpm": speaker.rate, "utterances": ids}
        if voices != "legacy":
            entry["warp"] = speaker.warp  # formants and f0 scaled by this factor
        if video == "camera":
            entry["av_offset_ms"] = offsets  # per utterance; positive: the video lags the audio
        description["speakers"].append(entry)
    for speaker, words, rng, take in progress(jobs, "synth-grid"):
        utterance_id = grammar.sentence_to_id(words)
        root = os.path.join(out_dir, speaker.name)
        paths = {kind: os.path.join(root, kind, f"{utterance_id}.{ext}")
                 for kind, ext in (("audio", "wav"), ("video", "mpg"), ("align", "align"))}
        if all(os.path.exists(path) for path in paths.values()):
            continue  # written by an earlier, interrupted run
        audio, frames, words_in_clip = synthesize_utterance(
            synthesizer, speaker, words, rng, sample_rate, clip_seconds, fps, take)
        write_audio(paths["audio"], audio, sample_rate)
        write_video(paths["video"], frames, fps, audio=audio, sample_rate=sample_rate)
        grid.write_align(paths["align"], words_in_clip, clip_seconds)
    atomic_write_text(os.path.join(out_dir, "synth_grid.json"), json.dumps(description, indent=2) + "\n")
    return description

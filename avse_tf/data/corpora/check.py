"""Check every clip of a corpus before hours of work, and list every problem, one per line.

Per clip, with the checks of :mod:`avse_tf.validation` (run through
:func:`~avse_tf.validation.problems_of`, so one bad clip does not stop the rest): the audio is
readable, complete and finite, sampled at 16 kHz or more; the video decodes, runs at 25 fps
(the rate every model here was trained on), has the frames its container announces, and shows a
face in each of a few sampled frames (dlib's detector on ``face_samples`` frames spread over the
clip, not all: a check, not landmark extraction); audio and video last the same time (within
:data:`~avse_tf.validation.DURATION_TOLERANCE_FRAMES` frames); the alignment is there when required
and parses. An ``error`` would stop a recipe; a ``warning`` is usable input under a stated rule.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE

FACE_SAMPLES = 3


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem of one file: ``severity`` is ``error`` (a recipe would stop) or ``warning``."""

    file: str
    severity: str
    message: str

    def line(self) -> str:
        """``<file>: <problem>; <what to do>`` (warnings say so after the file)."""
        return f"{self.file}: {'warning: ' if self.severity == 'warning' else ''}{self.message}"


def _problems(file, found) -> list:
    # Reader messages name the file by its full path, which the line already starts with.
    name = os.path.basename(file)
    return [Problem(file, severity, message.replace(file, name)) for severity, message in found]


def _read_audio(path):
    """``(waveform, rate, recorded_rate)``: a wav at its own rate; a video's sound track at 16 kHz
    (ffmpeg resamples it while decoding), with the rate its container declares."""
    import soundfile

    from avse_tf.audio.io import VIDEO_EXTENSIONS, load_audio
    from avse_tf.media import media_info

    if path.lower().endswith(VIDEO_EXTENSIONS):
        waveform = load_audio(path, SAMPLE_RATE)
        info = media_info(path)
        return waveform, SAMPLE_RATE, (info.audio_rate if info and info.audio_rate else SAMPLE_RATE)
    waveform = load_audio(path, None)
    rate = soundfile.info(path).samplerate
    return waveform, rate, rate


def check_clip(clip, require_align: bool = False, expect_transcript: bool = False,
               face_samples: int = FACE_SAMPLES) -> list:
    """Every :class:`Problem` of one :class:`~avse_tf.data.corpora.Clip`."""
    from avse_tf import validation
    from avse_tf.data import grid
    from avse_tf.video.io import read_video
    from avse_tf.video.landmarks import count_faces

    problems = []
    waveform = frames = None
    rate = fps = None
    if clip.audio is None:
        problems.append(Problem(clip.video, "error", "no audio file for this clip; unpack the speaker's audio archive "
                                                     "beside the videos, or give the folder it is in (--audio_dir)"))
    else:
        result, found = validation.problems_of(_read_audio, clip.audio)
        problems += _problems(clip.audio, found)
        if result is not None:
            waveform, rate, recorded_rate = result
            problems += _problems(clip.audio, validation.problems_of(
                validation.check_sample_rate, recorded_rate, os.path.basename(clip.audio))[1])
    if clip.video is None:
        problems.append(Problem(clip.audio, "error", "no video file for this clip; unpack the speaker's video archive "
                                                     "into the speaker's folder, or leave the clip out"))
    else:
        result, found = validation.problems_of(read_video, clip.video, grayscale=True)
        problems += _problems(clip.video, found)
        if result is not None:
            frames, fps = result
            name = os.path.basename(clip.video)
            problems += _problems(clip.video, validation.problems_of(validation.check_frame_rate, fps, name)[1])
            sampled = np.unique(np.linspace(0, len(frames) - 1, max(1, face_samples)).round().astype(int))
            counts = count_faces(frames[sampled])
            problems += _problems(clip.video, validation.problems_of(validation.check_face_found, counts, name)[1])
            per_frame = np.zeros(len(frames), np.int32)
            per_frame[sampled] = counts
            problems += _problems(clip.video, validation.problems_of(
                validation.warn_several_faces, per_frame, name)[1])
    if waveform is not None and frames is not None:
        found = validation.problems_of(
            validation.match_durations, waveform, frames, rate, fps, audio_source=os.path.basename(clip.audio),
            video_source=os.path.basename(clip.video), remedy="re-cut or re-download the clip, or leave it out")[1]
        problems += _problems(clip.audio, found)
    problems += _check_align(clip, require_align, grid)
    if expect_transcript and clip.transcript is None:
        where = clip.transcript_file or (os.path.splitext(clip.video or clip.audio)[0] + ".txt")
        problems.append(Problem(where, "warning", "no transcript (a first line 'Text:  THE WORDS'); the clip can "
                                                  "still be used where words are not needed"))
    return problems


def _check_align(clip, require_align, grid) -> list:
    from avse_tf import validation

    if clip.align is None:
        if not require_align:
            return []
        return [Problem(clip.video or clip.audio, "error",
                        f"no alignment {clip.clip_id}.align for this clip; unpack the alignments into <corpus>/align/"
                        f"{clip.speaker}/ or <corpus>/{clip.speaker}/align/, give --align_dir, or drop --require_align")]
    entries, found = validation.problems_of(grid.read_align, clip.align)
    problems = _problems(clip.align, found)
    if entries == []:
        problems.append(Problem(clip.align, "error", "the alignment is empty; re-download or re-create it"))
    return problems


def check_corpus(corpus, require_align: bool = False, face_samples: int = FACE_SAMPLES,
                 show_progress: bool = True) -> list:
    """Every :class:`Problem` of every clip of ``corpus`` (:func:`~avse_tf.data.corpora.read_corpus`)."""
    from avse_tf.utils import progress

    problems = []
    for clip in progress(list(corpus.clips), "check-corpus", disable=None if show_progress else True, unit="clip"):
        problems += check_clip(clip, require_align, expect_transcript=corpus.layout == "lrs3",
                               face_samples=face_samples)
    return problems


def summary(corpus, problems) -> str:
    """One line: what was checked, how many errors and warnings in how many files."""
    errors = sum(problem.severity == "error" for problem in problems)
    warnings = len(problems) - errors
    clips, speakers = len(corpus.clips), len(corpus.speakers())
    checked = (f"{clips} clip{'s' if clips != 1 else ''} of {speakers} speaker{'s' if speakers != 1 else ''} "
               f"({corpus.layout} layout, {corpus.root})")
    if not problems:
        return f"check-corpus: {checked}: no problems"
    files = len({problem.file for problem in problems})
    verdict = "a recipe would stop on the errors" if errors else "usable as it is"
    return (f"check-corpus: {checked}: {errors} error{'s' if errors != 1 else ''}, {warnings} "
            f"warning{'s' if warnings != 1 else ''} in {files} file{'s' if files != 1 else ''}; {verdict}")

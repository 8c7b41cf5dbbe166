"""The multi-language seed's preprocessing scripts (shared/seeds/001), as library functions.

* :func:`preprocess_audio_only` (``preprocess_audio_only.py --Grid_dir --output_dir``): every wav
  (and flac) under the corpus -> 16 kHz, 55 Hz high-pass -> ``<output_dir>/<its folder>/audio/<name>.flac``
  (a folder already called ``audio`` is not nested again); a video with no audio file of its name
  gives its sound track.
* :func:`crop_video_processing` (``--input_dir --output_dir``): every video -> its 112 x 112 gray
  mouth crop (:mod:`mouth`), muted, at the video's own frame rate, as
  ``<output_dir>/<relative path>.mp4``. The seed deleted multi-face or corrupt clips; here they are
  listed in ``<output_dir>/bad_clips.txt`` with the reason, one line each on stderr, and skipped.
* :func:`remove_not_25` (``--input_dir``): the videos that are not 25 fps, listed in
  ``not_25.txt`` as the seed does (it then asked the user to delete them); ``convert=True``
  re-encodes them at 25 fps instead (into ``output_dir``, or in place, atomically).

All writes are atomic and existing outputs are kept, so a killed run resumes.
"""

from __future__ import annotations

import os
import sys

from avse_tf.constants import FPS, SAMPLE_RATE
from avse_tf.data.corpora.layouts import AUDIO_SUFFIXES, VIDEO_SUFFIXES
from avse_tf.errors import UserInputError

NOT_25_FILE = "not_25.txt"
REPORT_FILE = "bad_clips.txt"


def _require_folder(path, flag) -> str:
    if not os.path.isdir(path):
        raise UserInputError(f"folder not found: {path}; check {flag}")
    return os.path.abspath(path)


def _skip(source, error, bad) -> None:
    reason = str(error).replace("\n", " ")
    print(f"avse: skipped {source}: {reason}", file=sys.stderr, flush=True)
    bad.append((source, reason))


def _write_report(path, bad) -> None:
    from avse_tf.utils import atomic_write_text

    atomic_write_text(path, "".join(f"{source}\t{reason}\n" for source, reason in bad))


def _audio_output(root, path, output_dir) -> str:
    folder, name = os.path.split(os.path.relpath(path, root))
    if os.path.basename(folder) != "audio":
        folder = os.path.join(folder, "audio")
    return os.path.join(output_dir, folder, os.path.splitext(name)[0] + ".flac")


def preprocess_audio_only(grid_dir, output_dir) -> dict:
    """16 kHz, 55 Hz high-passed flac of every recording (module doc). ``{"written", "kept", "bad"}``."""
    from avse_tf.audio.filters import highpass
    from avse_tf.audio.io import load_audio, write_audio
    from avse_tf.systems.vca_gan.features import HIGHPASS_HZ
    from avse_tf.systems.vca_gan.sources import find_files
    from avse_tf.utils import progress

    root = _require_folder(grid_dir, "--Grid_dir")
    audio = find_files(root, AUDIO_SUFFIXES)
    stems = {os.path.splitext(os.path.basename(path))[0] for path in audio}
    videos = [path for path in find_files(root, VIDEO_SUFFIXES) if os.path.splitext(os.path.basename(path))[0] not in stems]
    if not audio and not videos:
        raise UserInputError(f"no audio or video files under {root}; check --Grid_dir")
    counts, bad = {"written": 0, "kept": 0}, []
    for path in progress(audio + videos, "preprocess_audio_only"):
        target = _audio_output(root, path, output_dir)
        if os.path.isfile(target):
            counts["kept"] += 1
            continue
        try:
            write_audio(target, highpass(load_audio(path, SAMPLE_RATE), HIGHPASS_HZ, SAMPLE_RATE), SAMPLE_RATE)
            counts["written"] += 1
        except UserInputError as error:
            _skip(path, error, bad)
    if bad:
        _write_report(os.path.join(output_dir, REPORT_FILE), bad)
    return {**counts, "bad": bad}


def crop_video_processing(input_dir, output_dir, shape_predictor=None) -> dict:
    """Mouth-crop videos of every input video (module doc). ``{"written", "kept", "bad"}``."""
    import numpy as np

    from avse_tf.systems.vca_gan.mouth import mouth_crops
    from avse_tf.systems.vca_gan.sources import find_files
    from avse_tf.utils import progress
    from avse_tf.video.io import read_video, write_video
    from avse_tf.video.landmarks import LandmarkExtractor

    root = _require_folder(input_dir, "--input_dir")
    videos = find_files(root, VIDEO_SUFFIXES)
    if not videos:
        raise UserInputError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {root}; check --input_dir")
    extractor = LandmarkExtractor(shape_predictor)
    counts, bad = {"written": 0, "kept": 0}, []
    for path in progress(videos, "crop_video_processing"):
        target = os.path.join(output_dir, os.path.splitext(os.path.relpath(path, root))[0] + ".mp4")
        if os.path.isfile(target):
            counts["kept"] += 1
            continue
        try:
            frames, fps = read_video(path, grayscale=True)
            crops = mouth_crops(frames, path, extractor)
        except UserInputError as error:
            _skip(path, error, bad)
            continue
        write_video(target, np.repeat(crops[..., None], 3, axis=-1), fps)
        counts["written"] += 1
    _write_report(os.path.join(output_dir, REPORT_FILE), bad)
    return {**counts, "bad": bad}


def remove_not_25(input_dir, output_file=None, convert=False, output_dir=None) -> dict:
    """List (or, with ``convert``, re-encode at 25 fps) the videos that are not 25 fps (module doc).
    ``{"not_25": [(path, fps)], "list": the list file or None, "converted": [paths]}``."""
    from avse_tf.media import run_ffmpeg
    from avse_tf.media.ffmpeg import last_line
    from avse_tf.systems.vca_gan.sources import find_files
    from avse_tf.utils import atomic_path, atomic_write_text, progress
    from avse_tf.video.io import probe

    root = _require_folder(input_dir, "--input_dir")
    videos = find_files(root, VIDEO_SUFFIXES)
    if not videos:
        raise UserInputError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {root}; check --input_dir")
    not_25 = []
    for path in progress(videos, "remove_not_25"):
        fps = probe(path)["fps"]
        if abs(fps - FPS) > 0.01:
            not_25.append((path, fps))
    result = {"not_25": not_25, "list": None, "converted": []}
    if not convert:
        result["list"] = output_file or os.path.join(root, NOT_25_FILE)
        atomic_write_text(result["list"], "".join(f"{path}\t{fps:g} fps\n" for path, fps in not_25))
        return result
    for path, _ in not_25:
        target = os.path.join(output_dir, os.path.relpath(path, root)) if output_dir else path
        with atomic_path(target) as temporary:
            # -r 25 on the output: ffmpeg's fps conversion (frames duplicated or dropped), audio copied as is.
            done = run_ffmpeg(["-v", "error", "-y", "-i", path, "-map", "0:v:0", "-map", "0:a?", "-r", f"{FPS:g}",
                               "-c:a", "copy", temporary])
            if done.returncode != 0:
                raise UserInputError(f"cannot re-encode {path} at 25 fps: {last_line(done.stderr, 'ffmpeg failed')}")
        result["converted"].append(target)
    return result

"""Errors that reach the user as one line and exit code 2.

Library code raises :class:`UserInputError` (or a subclass) for anything the user can fix: a
missing folder, a truncated wav, a video with no face. The command line turns it into
``avse: error: <message>`` and exit code 2 (the argparse convention for usage errors); nothing
the user did wrong ever shows a traceback.
"""


class UserInputError(Exception):
    """Bad input the user can fix. The message says what, which file, and what to do."""

    exit_code = 2


class AudioReadError(UserInputError):
    """An audio file is missing, empty, truncated or in an unknown format."""


class NoiseDataError(AudioReadError):
    """A noise folder (``--noise_data_root``) that is missing, holds no wav / flac, or holds a file
    that cannot be read; names the folder or the file."""


class VideoReadError(UserInputError):
    """A video file is missing, empty or cannot be decoded."""


class NoFaceError(UserInputError):
    """No face was found where one is needed."""


class SeveralFacesError(UserInputError):
    """Several faces where one speaker is needed (lip-to-speech mouth crops)."""


class MetricInputError(UserInputError):
    """Signals given to a metric cannot be scored (silent reference, length mismatch...)."""


class FFmpegError(UserInputError):
    """The ffmpeg chosen by ``AVSE_FFMPEG`` cannot be found or run."""


class PresetError(UserInputError, ValueError):
    """A preset name or file that does not exist, cannot be read, or does not fit the command."""


class LanguageError(UserInputError, ValueError):
    """A language the synthetic corpus does not speak (``avse synth-grid --language``)."""


class ModelFileError(UserInputError):
    """A model file or export folder exists but cannot be loaded: damaged, cut short, or not an
    avse_tf model (an unknown layer class, a SavedModel with another signature)."""


class UntrustedModelError(ModelFileError):
    """A model file that would run arbitrary Python code when loaded (a ``Lambda`` layer)."""


class CorruptRecordError(UserInputError):
    """A record shard is truncated or damaged, or a record holds NaN / Inf; names the shard and record."""


class NonFiniteError(UserInputError, ValueError):
    """NaN or Inf in audio, landmarks, features or records."""


class DurationMismatchError(UserInputError):
    """The audio and the video of one clip differ in duration by more than two video frames."""


class FrameRateError(UserInputError):
    """A video at another frame rate than the models were trained on (GRID's 25 fps)."""


class TranscriptError(UserInputError):
    """A transcript that cannot be used: missing, empty, a word the pronouncing dictionary does not
    know, or words that do not fit in the audio they are aligned to."""


class InputWarning(UserWarning):
    """Input used under a stated rule (padded, trimmed, truncated, several faces); the command line
    prints it as ``avse: warning: <message>``."""


class WorkFolderBusyError(UserInputError):
    """Another avse process holds the lock of the folder this command writes (one writer per folder)."""


class DiskFullError(UserInputError):
    """A write failed because the disk (or quota) is full (ENOSPC / EDQUOT)."""


def _disk_full_errnos():
    import errno

    return {errno.ENOSPC} | ({errno.EDQUOT} if hasattr(errno, "EDQUOT") else set())


def _path_in_message(text: str):
    """The first absolute path in an error message (TensorFlow and ffmpeg name the file they failed to write)."""
    import re

    match = re.search(r"(/[^\s;:'\",]+)", text)
    return match.group(1) if match else None


def disk_full_error(error: BaseException, path=None):
    """A :class:`DiskFullError` if ``error`` (or an error it was raised from) means the disk is full,
    else ``None``. Full disks surface as an ``OSError`` with ENOSPC / EDQUOT (Python, Keras, h5py) or
    as another error whose message holds the system's text for it, "No space left on device"
    (TensorFlow's file writers raise ``ResourceExhaustedError``; ffmpeg's message is wrapped).
    ``path``: the file being written, named in the message (default: the one the error names).
    """
    import os

    numbers = _disk_full_errnos()
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DiskFullError):
            return error
        text = str(error)
        if (isinstance(error, OSError) and error.errno in numbers) or any(os.strerror(n) in text for n in numbers):
            path = os.fspath(path) if path else (getattr(error, "filename", None) or _path_in_message(text))
            if not path:
                return DiskFullError("disk full while writing: free space on the output folder's disk and run the "
                                     "same command again (finished files are kept)")
            path = os.path.abspath(path)
            folder = os.path.dirname(path)
            # A temporary (.tmp-*) is removed again: the folder is what the user recognises.
            where = f"in {folder}" if os.path.basename(path).startswith(".tmp-") else path
            return DiskFullError(f"disk full writing {where}: free space on {folder} and run the same command "
                                 "again (finished files are kept)")
        error = error.__cause__ or error.__context__
    return None

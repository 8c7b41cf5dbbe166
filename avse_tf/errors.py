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


class VideoReadError(UserInputError):
    """A video file is missing, empty or cannot be decoded."""


class NoFaceError(UserInputError):
    """No face was found where one is needed."""


class MetricInputError(UserInputError):
    """Signals given to a metric cannot be scored (silent reference, length mismatch...)."""


class FFmpegError(UserInputError):
    """The ffmpeg chosen by ``AVSE_FFMPEG`` cannot be found or run."""


class PresetError(UserInputError, ValueError):
    """A preset name or file that does not exist, cannot be read, or does not fit the command."""


class WorkFolderBusyError(UserInputError):
    """Another avse process holds the lock of the folder this command writes (one writer per folder)."""


class DiskFullError(UserInputError):
    """A write failed because the disk (or quota) is full (ENOSPC / EDQUOT)."""

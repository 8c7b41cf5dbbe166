"""The exact audio length an MP4 / MOV file declares, read from its boxes (ISO/IEC 14496-12).

AAC frames hold 1024 samples and the encoder adds priming at the start, so an MP4 says how much of
the decoded audio is real: the track's sample table (``stts``) gives the media length and the edit
list (``elst``) where presentation starts (the priming) and how long it lasts. ffmpeg 6+ honours
the end of the edit list when decoding; ffmpeg 5.1 (Debian 12's) drops only the priming and returns
up to 1023 padding samples more. Reading the count here, once, gives the same audio with either.
"""

from __future__ import annotations

import math
import os
import struct

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, payload end) of the boxes in ``data[start:end]``."""
    while start + 8 <= end:
        size, kind = struct.unpack(">I4s", data[start:start + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[start + 8:start + 16])[0]
            header = 16
        elif size == 0:
            size = end - start
        if size < header:
            return
        yield kind, start + header, min(start + size, end)
        start += size


def _find(data: bytes, start: int, end: int, kind: bytes):
    return next(((a, b) for box, a, b in _boxes(data, start, end) if box == kind), None)


def _read_moov(path: str) -> bytes | None:
    """The ``moov`` box's bytes (at the start or the end of the file), without reading the media."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        position = 0
        while position + 8 <= size:
            handle.seek(position)
            header = handle.read(16)
            box_size, kind = struct.unpack(">I4s", header[:8])
            header_size = 8
            if box_size == 1 and len(header) == 16:
                box_size, header_size = struct.unpack(">Q", header[8:16])[0], 16
            elif box_size == 0:
                box_size = size - position
            if box_size < header_size:
                return None
            if kind == b"moov":
                handle.seek(position)
                return handle.read(box_size)
            position += box_size
    return None


def _track_length(moov: bytes, trak: tuple[int, int], movie_timescale: int):
    """(exact sample count, sample rate) of an audio ``trak``, or None if it is not audio."""
    mdia = _find(moov, *trak, b"mdia")
    hdlr = mdia and _find(moov, *mdia, b"hdlr")
    if not hdlr or moov[hdlr[0] + 8:hdlr[0] + 12] != b"soun":
        return None
    mdhd = _find(moov, *mdia, b"mdhd")
    version = moov[mdhd[0]]
    timescale = struct.unpack(">I", moov[mdhd[0] + (20 if version == 1 else 12):][:4])[0]
    stbl = _find(moov, *mdia, b"minf")
    stbl = stbl and _find(moov, *stbl, b"stbl")
    stts = stbl and _find(moov, *stbl, b"stts")
    if not stts or not timescale:
        return None
    count = struct.unpack(">I", moov[stts[0] + 4:stts[0] + 8])[0]
    entries = struct.unpack(f">{2 * count}I", moov[stts[0] + 8:stts[0] + 8 + 8 * count])
    media_length = sum(entries[0::2][i] * entries[1::2][i] for i in range(count))
    if media_length == 0:  # fragmented MP4: the lengths are in the fragments; leave it to ffmpeg
        return None
    edts = _find(moov, *trak, b"edts")
    elst = edts and _find(moov, *edts, b"elst")
    if not elst:
        return media_length, timescale
    version, entry_count = moov[elst[0]], struct.unpack(">I", moov[elst[0] + 4:elst[0] + 8])[0]
    layout, width = (">Qq", 16) if version == 1 else (">Ii", 8)
    edits = [struct.unpack(layout, moov[elst[0] + 8 + i * (width + 4):][:width]) for i in range(entry_count)]
    if len(edits) != 1 or edits[0][1] < 0:
        return None  # empty edits or several segments: no single trim to apply; ffmpeg's reading stands
    segment, media_start = edits[0]
    length = media_length - media_start
    if segment and movie_timescale:
        # The segment's duration is in the movie's timescale (often 1/1000 s): round up, never cut audio.
        length = min(length, math.ceil(segment * timescale / movie_timescale))
    return length, timescale


def audio_sample_count(path: str) -> tuple[int, int] | None:
    """(samples, sample rate) that the first audio track of an MP4 / MOV / M4A presents, or None.

    None for anything that is not an ISO media file with a plain (single, non-empty) edit, and for
    fragmented files: the caller then keeps what ffmpeg decoded.
    """
    try:
        moov = _read_moov(path)
        if moov is None:
            return None
        mvhd = _find(moov, 8, len(moov), b"mvhd")
        movie_timescale = 0
        if mvhd:
            offset = 20 if moov[mvhd[0]] == 1 else 12
            movie_timescale = struct.unpack(">I", moov[mvhd[0] + offset:mvhd[0] + offset + 4])[0]
        for kind, start, end in _boxes(moov, 8, len(moov)):
            if kind == b"trak":
                found = _track_length(moov, (start, end), movie_timescale)
                if found:
                    return found
    except (OSError, struct.error, TypeError, IndexError):
        return None
    return None

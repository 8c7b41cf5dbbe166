"""The kinds of noise of the bank, and which are for training and which only for testing.

Hegde et al. (WACV 2021; fact sheet shared/papers/pseudo_visual_denoising.md) mix LRS3 speech with
VGGSound, everyday sounds that are not speech. The bank's stand-in has nine kinds, seven additive and two
of rooms (:mod:`~avse_tf.data.noise.generators`, :mod:`~avse_tf.data.noise.rooms`). Two roles:

- ``additive``: a noise clip added to the speech at an SNR (:func:`~avse_tf.data.noise.mixing.mix_at_snr`);
- ``impulse_response``: a room impulse response the speech is convolved with
  (:func:`~avse_tf.data.noise.rooms.reverberate`) before the additive noise.

Held out for testing (never in the training split, :data:`TEST_KINDS`):

- ``rain`` (dense, high-passed bursts) and ``music`` (tones and chords): each combines properties
  the training kinds have separately (rain: the impulsiveness of ``clicks_impacts`` with the density
  of coloured noise; music: the tonality of ``mains_hum``, but with pitches that move through
  the speech band as no training kind does), so the test asks whether a denoiser generalises to an unseen combination,
  not to an alien property; music is also the hardest non-speech noise (harmonic like voiced
  speech), which is why it must not leak into training.
- ``hall_reverb``: halls (10-20 m, RT60 0.8-1.2 s), longer than any training room (``room_reverb``:
  3-7 m, RT60 0.2-0.6 s).
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Callable

from avse_tf.constants import SAMPLE_RATE
from avse_tf.data.noise import generators, rooms
from avse_tf.errors import UserInputError

TRAIN = "train"
TEST = "test"
ADDITIVE = "additive"
IMPULSE_RESPONSE = "impulse_response"


@dataclasses.dataclass(frozen=True)
class NoiseKind:
    """One kind: ``generate(rng, seconds, sample_rate)`` makes a clip; ``split`` is train or test."""

    name: str
    split: str
    role: str
    generate: Callable
    describe: Callable = None  # rng -> dict of the clip's parameters for the manifest (rooms)

    @property
    def imitates(self) -> str:
        """The first sentence of the generator's docstring."""
        text = " ".join((self.generate.__doc__ or "").split())
        return text.split(". ")[0].rstrip(".") + "."

    def seed_key(self) -> int:
        """A number fixed by the kind's name (not its place in the list), so adding a kind never
        changes the bytes of the others."""
        return zlib.crc32(self.name.encode("utf-8"))


@dataclasses.dataclass(frozen=True)
class RoomKind:
    """Ranges a kind of room is drawn from (:func:`~avse_tf.data.noise.rooms.draw_room`)."""

    size_range: tuple
    rt60_range: tuple

    def draw(self, rng) -> rooms.ShoeboxRoom:
        return rooms.draw_room(rng, self.size_range, self.rt60_range)

    def generate(self, rng, seconds=None, sample_rate: int = SAMPLE_RATE):
        """An impulse response of a room drawn from these ranges (``seconds`` is ignored: the
        response lasts the room's RT60)."""
        return rooms.simulate_rir(self.draw(rng), sample_rate)

    def describe(self, rng) -> dict:
        return {"room": self.draw(rng).as_dict()}


ROOMS = RoomKind(((3.0, 7.0), (3.0, 6.0), (2.5, 3.5)), (0.2, 0.6))
HALLS = RoomKind(((10.0, 20.0), (8.0, 15.0), (5.0, 8.0)), (0.8, 1.2))


def _room_reverb(rng, seconds=None, sample_rate: int = SAMPLE_RATE):
    """Room reverberation: imitates speech recorded at a distance in an office, a living room or a
    classroom. Impulse responses of shoebox rooms 3-7 x 3-6 x 2.5-3.5 m, RT60 0.2-0.6 s
    (image-source method, :mod:`avse_tf.data.noise.rooms`)."""
    return ROOMS.generate(rng, seconds, sample_rate)


def _hall_reverb(rng, seconds=None, sample_rate: int = SAMPLE_RATE):
    """Hall reverberation: imitates speech in a lecture hall, a church or a station concourse.
    Impulse responses of shoebox halls 10-20 x 8-15 x 5-8 m, RT60 0.8-1.2 s (image-source method)."""
    return HALLS.generate(rng, seconds, sample_rate)


KINDS = {kind.name: kind for kind in (
    NoiseKind("pink_noise", TRAIN, ADDITIVE, generators.pink_noise),
    NoiseKind("brown_noise", TRAIN, ADDITIVE, generators.brown_noise),
    NoiseKind("mains_hum", TRAIN, ADDITIVE, generators.mains_hum),
    NoiseKind("machinery", TRAIN, ADDITIVE, generators.machinery),
    NoiseKind("clicks_impacts", TRAIN, ADDITIVE, generators.clicks_impacts),
    NoiseKind("rain", TEST, ADDITIVE, generators.rain),
    NoiseKind("music", TEST, ADDITIVE, generators.music),
    NoiseKind("room_reverb", TRAIN, IMPULSE_RESPONSE, _room_reverb, ROOMS.describe),
    NoiseKind("hall_reverb", TEST, IMPULSE_RESPONSE, _hall_reverb, HALLS.describe),
)}
TRAIN_KINDS = tuple(name for name, kind in KINDS.items() if kind.split == TRAIN)
TEST_KINDS = tuple(name for name, kind in KINDS.items() if kind.split == TEST)


def get_kind(name: str) -> NoiseKind:
    if name not in KINDS:
        raise UserInputError(f"unknown noise kind {name!r}; the kinds are {', '.join(KINDS)}")
    return KINDS[name]

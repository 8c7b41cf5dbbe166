"""Commands shared by every system: ``synth-grid`` (the synthetic corpus), ``noise-bank`` (non-speech
noise to mix with it) and ``landmarks``."""

from __future__ import annotations

import argparse
import os

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError


def positive_int(text):
    """argparse type: an integer >= 1 (shared by the commands that take counts and rates)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_length_buckets_argument(parser) -> None:
    """``--length_buckets F1,F2,...``: var-mode records batched by clip length (boundaries in frames;
    :func:`avse_tf.records.make_dataset`'s ``length_buckets``)."""
    parser.add_argument("--length_buckets", type=_increasing_counts, default=None, metavar="F1,F2,...",
                        help="var-mode records: batch clips by length, bucket boundaries in frames (100 per "
                             "second), e.g. 250,370,460; short clips are then not padded to long ones")


def _increasing_counts(text):
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or counts[0] < 1 or counts != sorted(set(counts)):
        raise argparse.ArgumentTypeError(f"expected increasing positive frame counts like 250,370,460, got {text!r}")
    return counts


def add_length_policy_arguments(parser) -> None:
    """``--pad`` / ``--trim``: what to do when the audio and the video of a clip differ by more
    than two video frames (default: stop with an error; :func:`avse_tf.validation.match_durations`)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pad", dest="length_policy", action="store_const", const="pad", default="error",
                       help="if audio and video durations differ: extend the shorter (silence / last frame repeated)")
    group.add_argument("--trim", dest="length_policy", action="store_const", const="trim",
                       help="if audio and video durations differ: cut the longer to the shorter")


def register(subparsers) -> None:
    from avse_tf.data.synth.languages import LANGUAGES
    from avse_tf.data.synth.voices import DISTINCT_VOICES, WARP_FACTORS

    synth = subparsers.add_parser(
        "synth-grid", help="write a synthetic GRID-layout audio-visual corpus (espeak-ng speech, rendered face)",
        description="Write DIR/s<k>/{audio/<id>.wav, video/<id>.mpg, align/<id>.align} in GRID's layout: "
                    "GRID sentences (or GRID-like ones in --language) spoken by espeak-ng voices, 3.0 s clips, "
                    "25 fps 360x288 MPEG-1 video of a face whose mouth follows the phonemes. The same seed gives the same bytes; existing "
                    "files are kept, so an interrupted run resumes.")
    synth.add_argument("--out", required=True, help="output corpus folder")
    synth.add_argument("--speakers", type=positive_int, default=4, help="number of speakers (s1..sN)")
    synth.add_argument("--utterances", type=positive_int, default=6, help="utterances per speaker")
    synth.add_argument("--seed", type=int, default=0, help="random seed")
    synth.add_argument("--sample_rate", type=positive_int, default=SAMPLE_RATE, help="audio sample rate in Hz")
    synth.add_argument("--first_speaker", type=positive_int, default=1, help="number of the first speaker folder")
    synth.add_argument("--voices", choices=("distinct", "legacy"), default="distinct",
                       help="distinct (default): no two speakers share a voice, up to "
                            f"{DISTINCT_VOICES} speakers (s1..s{DISTINCT_VOICES}): 14 male x 14 female "
                            f"espeak-ng variants, each with {len(WARP_FACTORS)} vocal-tract-length warps "
                            f"({WARP_FACTORS[0]}-{WARP_FACTORS[-1]}), and spread pitch and rate. legacy: each "
                            "speaker draws one of 9 male / 7 female variants with replacement, so speakers "
                            "can share a voice (the corpus the first model cards were measured on)")
    synth.add_argument("--video", choices=("camera", "legacy"), default="camera",
                       help="camera (default): per-utterance audio-visual offset (up to +-2 frames, in "
                            "synth_grid.json as av_offset_ms), coarticulated mouth, blinks, head motion, "
                            "lighting and sensor noise. legacy: the mouth an exact, synchronous function of "
                            "the phonemes on a face that sways by 1.5 px (the first model cards' renderer)")
    synth.add_argument("--language", default="en",
                       help="language of the sentences, voices and mouth shapes: "
                            + ", ".join(f"{code} ({language.name})" for code, language in LANGUAGES.items())
                            + "; en is GRID's grammar, the others a GRID-like 6-slot grammar with 6-character ids "
                              "(python -m pydoc avse_tf.data.synth.languages). Default: en")
    synth.set_defaults(func=run_synth_grid, work_folder="out")

    from avse_tf.data.noise.registry import KINDS, TEST_KINDS, TRAIN_KINDS

    noise = subparsers.add_parser(
        "noise-bank", help="write a seeded bank of non-speech noise wavs and room impulse responses",
        description="Write DIR/<split>/<kind>/<kind>_<i>.wav (16 kHz mono) and DIR/noise_bank.json: non-speech "
                    "noise in place of VGGSound (Hegde et al. 2021), for --noise_data_root. Training kinds: "
                    + ", ".join(TRAIN_KINDS) + "; test-only kinds (held out from training): " + ", ".join(TEST_KINDS)
                    + ". *_reverb clips are room impulse responses. The same seed gives the same bytes; existing "
                    "files are kept, so an interrupted run resumes (python -m pydoc avse_tf.data.noise).")
    noise.add_argument("--out", required=True, help="output folder")
    noise.add_argument("--seconds", type=float, default=60.0, help="seconds of noise per kind (default 60)")
    noise.add_argument("--clip_seconds", type=float, default=10.0, help="seconds per clip (default 10)")
    noise.add_argument("--seed", type=int, default=0, help="random seed")
    noise.add_argument("--kinds", nargs="+", choices=tuple(KINDS), default=None, metavar="KIND",
                       help="only these kinds (default: all): " + ", ".join(KINDS))
    noise.set_defaults(func=run_noise_bank, work_folder="out")

    landmarks = subparsers.add_parser(
        "landmarks", help="68-point face landmarks of one video as a T x 136 TXT",
        description="dlib detector + 68-point predictor + correlation tracker (re-detect every 8 frames).")
    landmarks.add_argument("--video", required=True, help="input video")
    landmarks.add_argument("--output", required=True, help="output TXT (one row per frame, x0 y0 ... x67 y67)")
    landmarks.add_argument("--shape_predictor", default=None,
                           help="dlib 68-point model (.dat); default: face-recognition-models' copy")
    landmarks.set_defaults(func=run_landmarks)


def run_synth_grid(args) -> int:
    from avse_tf.data.synth.corpus import generate_grid_corpus
    from avse_tf.data.synth.voices import DISTINCT_VOICES

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserInputError(f"--out {args.out} exists and is not a folder; choose another path")
    last = args.first_speaker + args.speakers - 1
    if args.voices == "distinct" and last > DISTINCT_VOICES:
        raise UserInputError(f"--voices distinct makes {DISTINCT_VOICES} distinct voices (s1..s{DISTINCT_VOICES}); "
                             f"s{last} would repeat one: use fewer --speakers or --voices legacy")
    description = generate_grid_corpus(args.out, args.speakers, args.utterances, args.seed, args.sample_rate,
                                       first_speaker=args.first_speaker, voices=args.voices, video=args.video,
                                       language=args.language)
    total = sum(len(speaker["utterances"]) for speaker in description["speakers"])
    print(f"synthetic GRID corpus: {len(description['speakers'])} speakers, {total} utterances in {args.out}")
    return 0


def run_noise_bank(args) -> int:
    from avse_tf.data.noise.bank import write_noise_bank

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UserInputError(f"--out {args.out} exists and is not a folder; choose another path")
    manifest = write_noise_bank(args.out, args.seconds, args.clip_seconds, args.seed, args.kinds)
    splits = {}
    for clip in manifest["clips"]:
        splits[clip["split"]] = splits.get(clip["split"], 0) + 1
    print(f"noise bank: {len(manifest['kinds'])} kinds, "
          + ", ".join(f"{count} {split} clips" for split, count in sorted(splits.items())) + f" in {args.out}")
    return 0


def run_landmarks(args) -> int:
    from avse_tf.video.landmarks import LandmarkExtractor, save_landmarks_txt

    track = LandmarkExtractor(args.shape_predictor).extract_file(args.video)
    save_landmarks_txt(args.output, track.points)
    print(f"{args.output}: {len(track.points)} frames, face detected by the detector in "
          f"{track.detected.sum()} (the rest tracked)")
    return 0

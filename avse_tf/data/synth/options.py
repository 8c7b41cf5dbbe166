"""Corpus settings that recipes and tools pass through to :func:`~avse_tf.data.synth.corpus.generate_grid_corpus`.

A setting is any keyword of ``generate_grid_corpus`` (``voices``, ``video``, and whatever a newer
version adds): the names are read from its signature, not listed here, so a
new keyword works everywhere as soon as the generator has it. The keywords a recipe sets itself
(:data:`RECIPE_KEYS`: the folder, the speaker and utterance counts, the first speaker, the seed)
are refused, since changing them would break the recipe's speaker split.
"""

from __future__ import annotations

import inspect

from avse_tf.errors import UserInputError

RECIPE_KEYS = ("out_dir", "speakers", "utterances", "first_speaker", "seed")


def corpus_parameters() -> dict:
    from avse_tf.data.synth.corpus import generate_grid_corpus

    return dict(inspect.signature(generate_grid_corpus).parameters)


def check_corpus_options(options, reserved=RECIPE_KEYS, what="corpus option") -> dict:
    """``options`` as a dict, or a :class:`UserInputError` naming an unknown or reserved key."""
    options = dict(options or {})
    parameters = corpus_parameters()
    allowed = [name for name in parameters if name not in reserved]
    for key in options:
        if key in reserved:
            raise UserInputError(f"{what} {key!r} is set by the recipe itself; settable: {', '.join(allowed)}")
        if key not in parameters:
            raise UserInputError(f"unknown {what} {key!r}: this generate_grid_corpus takes {', '.join(allowed)}")
    return options


def parse_corpus_settings(text, flag, reserved=RECIPE_KEYS) -> dict:
    """``"seed=1,voices=distinct"`` -> ``{"seed": 1, "voices": "distinct"}``, each value converted to the
    type of the keyword's default (int, float, bool; else kept as text)."""
    settings = {}
    parameters = corpus_parameters()
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        key, equals, value = (part.strip() for part in item.partition("="))
        if not equals or not key or not value:
            raise UserInputError(f"{flag} {text!r}: {item!r} is not key=value (e.g. {flag} seed=7,voices=legacy)")
        if key in settings:
            raise UserInputError(f"{flag} {text!r}: {key} given twice")
        check_corpus_options({key: value}, reserved, f"{flag} setting")
        settings[key] = _convert(value, parameters[key].default, f"{flag} {key}={value}")
    return settings


def _convert(value, default, where):
    kind = type(default)
    try:
        if kind is bool:  # bool("false") is True: spell the two values out
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            return value.lower() in ("true", "1")
        if kind in (int, float):
            return kind(value)
    except ValueError:
        raise UserInputError(f"{where}: expected {kind.__name__}") from None
    return value


def make_corpus(out_dir, speakers, utterances, seed, options=None, first_speaker=1) -> dict:
    """``generate_grid_corpus`` with ``options``; a value it refuses (``voices="x"``) is the user's
    input, so it becomes a one-line :class:`UserInputError` instead of a traceback."""
    from avse_tf.data.synth.corpus import generate_grid_corpus

    options = check_corpus_options(options)
    try:
        return generate_grid_corpus(out_dir, speakers=speakers, utterances=utterances, seed=seed,
                                    first_speaker=first_speaker, **options)
    except ValueError as error:
        raise UserInputError(f"synthetic corpus {out_dir}: {error}") from error


def add_corpus_arguments(parser) -> None:
    """``--voices`` and ``--video`` of the recipes (default: the library's)."""
    from avse_tf.data.synth.voices import VOICE_MODES  # light: read for --help

    parser.add_argument("--voices", choices=VOICE_MODES, default=None,
                        help="synthetic voices: distinct (one voice per speaker) or legacy (espeak-ng variants drawn "
                             "with replacement, speakers may share one; avse synth-grid --help); default: the library's (distinct)")
    parser.add_argument("--video", choices=("camera", "legacy"), default=None,
                        help="face renderer: camera (offset, coarticulation, blinks, head motion, lighting) or legacy "
                             "(avse synth-grid --help); default: the library's (camera)")


def corpus_options_from_args(args) -> dict:
    """The recipe flags given (not None) as ``generate_grid_corpus`` keywords."""
    return {key: getattr(args, key) for key in ("voices", "video") if getattr(args, key, None) is not None}

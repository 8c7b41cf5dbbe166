"""Named presets: the papers' hyper-parameters, with their citation and where each value comes from.

Each preset is one JSON file in its system's folder, ``avse_tf/systems/<system>/presets/`` (package
data, so it is there after ``pip install .``), named ``<preset>.json``::

    {"name": ..., "model": <MODEL_BUILDERS key>, "description": ...,
     "architecture": {builder keyword arguments: hidden_units, num_layers, dropout, ...},
     "training": {optimizer, learning_rate, batch_size, epochs, ...; null = not known},
     "features": {STFT, power law, landmark delta, TBM mask_factor, ...},
     "provenance": {"paper_or_original_code": [...], "original_readme_example": [...],
                    "chosen_here": [...], "unknown": [...]},   # dotted keys of the fields above
     "citation": {title, authors, venue, year, pages, arxiv, code, bibtex}}

``from_preset(name, **overrides)`` builds the model from ``architecture`` (overrides win), in the
style of keras-hub's ``Backbone.from_preset``; nothing is downloaded (presets carry no weights).
Training commands read them through :func:`resolve_training_flags` (``--preset``).
"""

from __future__ import annotations

import copy
import json
import os

from avse_tf.errors import PresetError, UserInputError


def _load_all() -> dict:
    """``{preset name: (system name, preset dict)}`` over every registered system."""
    from avse_tf.systems import all_systems

    presets = {}
    for system in all_systems():
        for entry in system.preset_files():
            preset = json.loads(entry.read_text(encoding="utf-8"))
            presets[preset["name"]] = (system.name, preset)
    return presets


def list_presets(model=None, system=None):
    """Names of the available presets (only those of ``model``, e.g. ``"vl2m"``, or of ``system``)."""
    return [name for name, (owner, preset) in _load_all().items()
            if (model is None or preset["model"] == model) and (system is None or owner == system)]


def get_preset(name):
    """A copy of the preset ``name`` (or a preset JSON file, e.g. from ``avse tune``) as a dict."""
    if str(name).endswith(".json"):
        try:
            with open(name, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError) as error:
            raise PresetError(f"cannot read preset {name}: {error}; pass a preset name or a JSON file") from None
    presets = _load_all()
    if name not in presets:
        raise PresetError(f"unknown preset {name!r}; available: {', '.join(presets)}")
    return copy.deepcopy(presets[name][1])


def build_model(model_id, /, **kwargs):
    """Build ``model_id`` (any registered system's model, e.g. ``"vl2m"``) with builder keyword arguments."""
    from avse_tf.systems import builder_for

    return builder_for(model_id)(**kwargs)


def from_preset(name, **overrides):
    """Build a preset's model (a name from :func:`list_presets`, a preset JSON file, or its dict):
    ``builder(**preset["architecture"], **overrides)`` with the builder of ``preset["model"]``.
    Architecture keys that the model name already implies (Speech2Vid's ``masked_target`` for
    ``speech2vid_masked``) are documentation and are not passed twice."""
    preset = name if isinstance(name, dict) else get_preset(name)
    architecture = dict(preset["architecture"])
    if preset["model"] == "speech2vid_masked":
        architecture.pop("masked_target", None)
    return build_model(preset["model"], **{**architecture, **overrides})


def _dotted(preset, key):
    value = preset
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def resolve_training_flags(args, system, preset_flags: dict, fallbacks: dict, model_flag="model",
                           original_regularization=None) -> dict:
    """Fill the ``None`` flags of a training command from its preset; returns the resolved config.

    The preset is ``args.preset`` (a name or JSON file), else the first preset of ``--model``
    (default: the system's first model). Each flag in ``preset_flags`` (flag -> dotted preset key, e.g.
    ``"layers": "architecture.num_layers"``) left at ``None`` takes the preset's value; a value the
    preset does not know (``null``) takes ``fallbacks[flag]``. Explicit flags win. ``args`` is
    updated in place, and the returned dict (preset, model, every value and where it came from) is
    what :func:`save_resolved_config` writes beside the checkpoint.

    Values of ``dropout`` / ``regularization`` that read differently in the original projects'
    command lines are warned about (:func:`warn_original_flags`; ``original_regularization`` is
    its hook, see there); they are used as given.
    """
    model = getattr(args, model_flag, None)
    name = getattr(args, "preset", None)
    if name is None:
        candidates = list_presets(model=model or system.models[0], system=system.name)
        name = candidates[0] if candidates else None
    preset = get_preset(name) if name else {"name": None, "model": model, "architecture": {}, "training": {}}
    if model is None:
        model = preset["model"]
    elif preset.get("model") not in (None, model):
        raise UserInputError(f"--{model_flag} {model} does not match preset {name} (a {preset['model']} preset); "
                             "drop one of them or pass a preset of that model")
    if model not in system.all_models:
        raise UserInputError(f"preset {name} builds {model!r}, not a model of avse {system.cli_group}; "
                             f"choose one of {', '.join(system.all_models)}")
    setattr(args, model_flag, model)
    values, sources = {}, {}
    for flag, key in {**preset_flags, **{flag: None for flag in fallbacks if flag not in preset_flags}}.items():
        value = getattr(args, flag, None)
        if value is not None:
            sources[flag] = "flag"
        elif key is not None and _dotted(preset, key) is not None:
            value, sources[flag] = _dotted(preset, key), f"preset {key}"
        elif flag in fallbacks:
            value, sources[flag] = fallbacks[flag], "default (preset: unknown)"
        setattr(args, flag, value)
        values[flag] = value
    config = {"system": system.name, "preset": preset.get("name"), "preset_file": name if str(name).endswith(".json")
              else None, "model": model, "values": values, "sources": sources}
    warn_original_flags(config, original_regularization)
    return config


def _flag_text(config, flag):
    source = config["sources"].get(flag, "flag")
    value = config["values"][flag]
    return f"--{flag} {value:g}" if source == "flag" else f"{flag} {value:g} ({source} of {config['preset']})"


def original_flag_messages(config, original_regularization=None) -> list:
    """What a resolved ``dropout`` / ``regularization`` means here, when it looks like an original
    command line's value (shared by every training command that has these flags):

    - ``dropout`` above 0.5: the original projects took a KEEP probability (``--dropout 0.8`` kept
      80 % of the units), ours is a drop rate; the message says what the value drops here and that
      ``1 - value`` gives the original behaviour. A value of 1 or more (the original's "keep all")
      cannot be a drop rate and raises :class:`UserInputError` naming ``--dropout 0``.
    - ``regularization`` given explicitly and non-zero (our presets all say 0; the rule is "any value
      given on the command line"): ours adds ``value * sum(w**2)`` to a MEAN loss, the original
      added its value to a loss summed over the batch's frames and bins.
      ``original_regularization(config)`` (the system's hook) returns ``(divisor, how)``: the
      original's value divided by ``divisor`` is the equivalent one here; ``how`` says what the
      original summed. Without the hook the message says ~batch x frames x bins in words.
    """
    values, messages = config["values"], []
    dropout = values.get("dropout")
    if dropout is not None and dropout >= 1:
        raise UserInputError(f"{_flag_text(config, 'dropout')} would drop every unit: --dropout is a drop rate here; "
                             "the original projects' keep probability 1 (no dropout) is --dropout 0")
    if dropout is not None and dropout > 0.5:
        messages.append(f"{_flag_text(config, 'dropout')} is a drop rate here: it drops {100 * dropout:g} % of the "
                        f"units in training; the original projects took a keep probability, so their "
                        f"--dropout {dropout:g} is --dropout {1 - dropout:.4g} here (using {dropout:g} as given)")
    regularization = values.get("regularization")
    if regularization and config["sources"].get("regularization") == "flag":
        head = f"--regularization {regularization:g} is an L2 weight (times the sum of squares) against a mean loss here"
        if original_regularization is not None:
            divisor, how = original_regularization(config)
            messages.append(f"{head}; {how}, so the original's --regularization {regularization:g} is "
                            f"--regularization {regularization / divisor:.3g} here (using {regularization:g} as given)")
        else:
            messages.append(f"{head}; the original projects added it to a loss summed over the batch's frames and "
                            f"bins, so their value is ~batch x frames x bins times too strong here "
                            f"(using {regularization:g} as given)")
    return messages


def warn_original_flags(config, original_regularization=None) -> None:
    """Warn (:class:`~avse_tf.errors.InputWarning`, one ``avse: warning:`` line each) with
    :func:`original_flag_messages`; the values are used as given."""
    import warnings

    from avse_tf.errors import InputWarning

    for message in original_flag_messages(config, original_regularization):
        warnings.warn(InputWarning(message), stacklevel=3)


def save_resolved_config(exp_dir, config, extra=None) -> str:
    """Write the run's resolved config (:func:`resolve_training_flags`) as ``<exp_dir>/config.json``."""
    import sys

    from avse_tf.constants import RESOLVED_CONFIG_FILE
    from avse_tf.utils import atomic_write_text

    os.makedirs(exp_dir, exist_ok=True)
    path = os.path.join(exp_dir, RESOLVED_CONFIG_FILE)
    record = {**config, **(extra or {}), "command": ["avse", *sys.argv[1:]] if sys.argv else None}
    atomic_write_text(path, json.dumps(record, indent=1, default=str) + "\n")
    return path


def add_preset_argument(parser, system_name: str) -> None:
    """``--preset NAME|FILE`` for a training command."""
    parser.add_argument("--preset", default=None,
                        help=f"hyper-parameters from a preset name ({', '.join(list_presets(system=system_name))}) "
                             "or a preset JSON file (e.g. from avse tune); default: the --model's preset. "
                             "Explicit flags win; the resolved values are saved in <exp>/config.json")


__all__ = [
    "add_preset_argument",
    "build_model",
    "from_preset",
    "get_preset",
    "list_presets",
    "original_flag_messages",
    "resolve_training_flags",
    "save_resolved_config",
    "warn_original_flags",
]

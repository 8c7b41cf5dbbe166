"""Named presets: the papers' hyper-parameters, with their citation and where each value comes from.

Each preset is one JSON file in ``avse_tf/models/preset_files/`` (package data, so it is there
after ``pip install .``), named ``<preset>.json``::

    {"name": ..., "model": <MODEL_BUILDERS key>, "description": ...,
     "architecture": {builder keyword arguments: hidden_units, num_layers, dropout, ...},
     "training": {optimizer, learning_rate, batch_size, epochs, ...; null = not known},
     "features": {STFT, power law, landmark delta, TBM mask_factor, ...},
     "provenance": {"paper_or_original_code": [...], "original_readme_example": [...],
                    "chosen_here": [...], "unknown": [...]},   # dotted keys of the fields above
     "citation": {title, authors, venue, year, pages, arxiv, code, bibtex}}

``from_preset(name, **overrides)`` builds the model from ``architecture`` (overrides win), in the
style of keras-hub's ``Backbone.from_preset``; nothing is downloaded (presets carry no weights).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources

PRESET_DIR = "preset_files"


@lru_cache(maxsize=None)
def _load_all():
    presets = {}
    folder = resources.files("avse_tf.models").joinpath(PRESET_DIR)
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".json"):
            preset = json.loads(entry.read_text(encoding="utf-8"))
            presets[preset["name"]] = preset
    return presets


def list_presets(model=None):
    """Names of the available presets (only those of ``model``, e.g. ``"vl2m"``, if given)."""
    return [name for name, preset in _load_all().items() if model is None or preset["model"] == model]


def get_preset(name):
    """A copy of the preset ``name`` (or a preset JSON file, e.g. from ``avse tune``) as a dict."""
    if str(name).endswith(".json"):
        try:
            with open(name, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError) as error:
            raise ValueError(f"cannot read preset {name}: {error}") from None
    presets = _load_all()
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; available: {', '.join(presets)}")
    return copy.deepcopy(presets[name])


# Model families, by module: each has MODEL_BUILDERS {model name: builder}.
FAMILY_MODULES = ("avse_tf.models.enhancement", "avse_tf.models.inpainting", "avse_tf.models.speech2vid")


def builder_for(model_name):
    """The builder of ``model_name`` in whichever family defines it."""
    import importlib

    for module_name in FAMILY_MODULES:
        builders = importlib.import_module(module_name).MODEL_BUILDERS
        if model_name in builders:
            return builders[model_name]
    raise ValueError(f"no model family builds {model_name!r}")


def from_preset(name, **overrides):
    """Build a preset's model (a name from :func:`list_presets`, a preset JSON file, or its dict):
    ``builder(**preset["architecture"], **overrides)`` with the builder of ``preset["model"]``.
    Architecture keys that the model name already implies (Speech2Vid's ``masked_target`` for
    ``speech2vid_masked``) are documentation and are not passed twice."""
    preset = name if isinstance(name, dict) else get_preset(name)
    architecture = dict(preset["architecture"])
    if preset["model"] == "speech2vid_masked":
        architecture.pop("masked_target", None)
    return builder_for(preset["model"])(**{**architecture, **overrides})


__all__ = ["list_presets", "get_preset", "from_preset"]

"""The registry of systems: the only list of the published systems avse_tf implements.

Everything that works "for every system" iterates over :func:`all_systems`: the ``avse`` command
groups, presets (:func:`avse_tf.list_presets`), checkpoint loading, :func:`avse_tf.load`,
``avse export``, ``avse tune``, ``avse demo`` and ``tools/bench``. Adding a system is one folder
``avse_tf/systems/<name>/`` (see :class:`avse_tf.systems.base.System` and CONTRIBUTING.md) and one
line in :data:`SYSTEM_PACKAGES`. Systems outside the package register with :func:`register`, or
are named in the ``AVSE_TF_SYSTEMS`` environment variable (comma-separated packages, each with a
``SYSTEM``), which is how a command line picks them up.
"""

from __future__ import annotations

import importlib
import os

from avse_tf.errors import UserInputError
from avse_tf.systems.base import System

# One line per system, in the order `avse --help` and the tables list them.
SYSTEM_PACKAGES = (
    "avse_tf.systems.landmark_enhancement",  # Morrone et al. 2019
    "avse_tf.systems.av_inpainting",  # Morrone et al. 2021
    "avse_tf.systems.speech2vid",  # Chung et al. 2017
    "avse_tf.systems.vca_gan",  # Kim et al. 2021
    "avse_tf.systems.pseudo_visual",  # Hegde et al. 2021
)

_REGISTERED: dict = {}
_LOADED = False


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    extra = [name.strip() for name in os.environ.get("AVSE_TF_SYSTEMS", "").split(",") if name.strip()]
    for package in (*SYSTEM_PACKAGES, *extra):
        try:
            system = importlib.import_module(package).SYSTEM
        except (ImportError, AttributeError) as error:
            raise UserInputError(f"cannot load system {package} (AVSE_TF_SYSTEMS?): {error}") from None
        register(system)


def register(system: System) -> System:
    """Add ``system`` to the registry (again under the same name: replaced). Returns it."""
    _load()
    for other in _REGISTERED.values():
        if other.name != system.name and other.cli_group == system.cli_group:
            raise ValueError(f"CLI group {system.cli_group!r} is taken by system {other.name!r}")
    _REGISTERED[system.name] = system
    return system


def unregister(name: str) -> None:
    """Remove a system registered with :func:`register` (tests)."""
    _REGISTERED.pop(name, None)


def all_systems() -> list:
    """Every registered :class:`System`, in registry order."""
    _load()
    return list(_REGISTERED.values())


def get(name: str) -> System:
    """The system called ``name`` (its folder name) or whose CLI group is ``name``."""
    for system in all_systems():
        if name in (system.name, system.cli_group):
            return system
    raise UserInputError(f"unknown system {name!r}; available: {', '.join(s.name for s in all_systems())}")


def system_of_model(model_id: str) -> System:
    """The system that builds ``model_id`` (e.g. ``"vl2m"`` -> landmark_enhancement)."""
    for system in all_systems():
        if model_id in system.all_models:
            return system
    known = ", ".join(model for system in all_systems() for model in system.all_models)
    raise UserInputError(f"no system builds model {model_id!r}; known models: {known}")


def builder_for(model_id: str):
    """The builder of ``model_id`` in whichever system defines it."""
    return system_of_model(model_id).builders()[model_id]


CHECKPOINT_REMEDY = "give a .keras file, an experiment folder or an export written by avse_tf"


def _keras_file(path) -> str:
    """``path``, or the ``best.keras`` (else ``model.keras``) of the folder ``path``."""
    from avse_tf.constants import BEST_CHECKPOINT

    path = os.fspath(path)
    if os.path.isdir(path):
        candidates = [os.path.join(path, name) for name in (BEST_CHECKPOINT, "model.keras")]
        path = next((candidate for candidate in candidates if os.path.isfile(candidate)), candidates[0])
    return path


def checkpoint_model_id(path) -> str:
    """The model id a ``.keras`` file (or an experiment / export folder's) holds, read from its
    config without building it: the ``architecture`` of avse_tf's model classes, else the model name.

    A damaged or untrusted file raises :class:`~avse_tf.errors.ModelFileError` (see
    :func:`avse_tf.training.checkpoints.read_keras_config`)."""
    from avse_tf.training.checkpoints import read_keras_config

    path = _keras_file(path)
    if not os.path.isfile(path):
        raise UserInputError(f"model not found: {path}; give a .keras file, an experiment folder or an export")
    config = read_keras_config(path, "model", CHECKPOINT_REMEDY)
    inner = config.get("config", {}) if isinstance(config.get("config"), dict) else {}
    return inner.get("architecture") or inner.get("name") or config.get("class_name", "?")


def system_of_checkpoint(path):
    """``(system, model id)`` of a ``.keras`` checkpoint, experiment folder or keras export.

    A file holding a model no system builds is "corrupt or not an avse_tf model"
    (:class:`~avse_tf.errors.ModelFileError`), naming the classes it needs that avse_tf does not register."""
    model_id = checkpoint_model_id(path)
    try:
        return system_of_model(model_id), model_id
    except UserInputError:
        from avse_tf.training.checkpoints import (
            model_file_error,
            read_keras_config,
            unknown_classes,
        )

        path = _keras_file(path)
        import_model_modules()
        missing = unknown_classes(read_keras_config(path))
        reason = (f"unknown class {', '.join(missing)}, registered by no avse_tf module" if missing
                  else f"model {model_id!r}, which no avse_tf system builds")
        raise model_file_error(path, reason, "model", CHECKPOINT_REMEDY) from None


def import_model_modules() -> None:
    """Import every system's model module, registering their Keras classes for safe-mode loading."""
    for system in all_systems():
        if system.model_module is not None:  # a data-only system registers no Keras classes
            system.module(system.model_module)


__all__ = ["System", "SYSTEM_PACKAGES", "register", "unregister", "all_systems", "get", "system_of_model",
           "builder_for", "import_model_modules", "checkpoint_model_id", "system_of_checkpoint"]

"""The Python API: load a trained or exported model of any system and use it on files or arrays.

    import avse_tf
    model = avse_tf.load("experiments/av/best.keras")    # any system; or an export folder
    model.system, model.model_id                          # "landmark_enhancement", "av_concat_mask"
    enhanced, mask = model.enhance(waveform, landmarks)   # each system's task helpers
    avse_tf.enhance_file("mix.wav", "face.mpg", model="exported/av", output="enhanced.wav")
    avse_tf.inpaint_file("gapped.wav", "restored.wav", model="experiments/a_blstm")
    avse_tf.speech_to_video("speech.wav", "face.jpg", "talking.mp4", model="saved_models")

:func:`load` accepts a ``.keras`` checkpoint or an experiment folder (the model plus the files
training saved beside it), a folder written by ``avse export --format keras``, and a SavedModel
written by ``avse export --format savedmodel`` (the version folder or its parent, TensorFlow
Serving's base path; the newest version is used). The system comes from the registry: the
checkpoint's model id, or the ``avse_export.json`` stamp of an export; each system's task class
(the registry's ``task`` hook: ``Enhancer``, ``Inpainter``, ``TalkingFace``) wraps the model.
A SavedModel holding only a model core loads as :class:`ExportedModel` (call its signature).
Keras files load in safe mode (a ``Lambda`` layer or a class avse_tf does not register is refused
in one line) and SavedModels are graphs, so no Python code from the file runs; but a SavedModel's
graph runs when it is called, so load SavedModels only from a trusted source. Before a SavedModel
is used its ``serving_default`` signature is checked against the ``avse_export.json`` stamp
(:func:`avse_tf.export.core.check_saved_model`); a damaged file or folder of any kind is a one-line
:class:`~avse_tf.errors.ModelFileError` ("<path> is corrupt or not an avse_tf model (...)").
"""

from __future__ import annotations

import os

from avse_tf.errors import UserInputError


class ExportedModel:
    """A SavedModel export of a system's model core: ``model(**inputs)`` runs ``serving_default``."""

    def __init__(self, loaded, source, system, model_id):
        self.signature = loaded.signatures["serving_default"]
        self.source = source
        self.system = system
        self.model_id = model_id
        self.keras_model = None

    def __call__(self, **inputs):
        import tensorflow as tf

        outputs = self.signature(**{name: tf.constant(value) for name, value in inputs.items()})
        return {name: value.numpy() for name, value in outputs.items()}


def load(path, **options):
    """Load a trained or exported model of any system (see the module docstring for ``path``).

    ``options`` go to the system's loader (enhancement and inpainting: ``norm_file``; Speech2Vid:
    ``deblur``)."""
    from avse_tf.systems import system_of_checkpoint
    from avse_tf.utils import saved_model_dir

    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserInputError(f"model not found: {path}; give a .keras file, an experiment folder or an export")
    saved_model = saved_model_dir(path) if os.path.isdir(path) else None
    if saved_model:
        return _load_saved_model(path, saved_model, options)
    if os.path.isdir(path):
        _refuse_savedmodel_without_graph(path)
    system, _ = system_of_checkpoint(path)
    if system.task is None:
        raise UserInputError(f"{path} holds a {system.name} model, and that system has no loader for avse_tf.load")
    return system.resolve(system.task).from_path(path, **options)


def _refuse_savedmodel_without_graph(path):
    """A folder stamped as a SavedModel export that has lost its ``saved_model.pb``."""
    from avse_tf.export.core import EXPORT_REMEDY, read_export_info
    from avse_tf.training.checkpoints import model_file_error

    info = read_export_info(path)
    if info and info.get("format") == "savedmodel":
        raise model_file_error(path, "saved_model.pb is missing", "SavedModel", EXPORT_REMEDY)


def _load_saved_model(path, saved_model, options):
    """A SavedModel export, after :func:`avse_tf.export.core.check_saved_model` (its signature
    against its stamp, or the system's expected inputs for a stamp that does not record them)."""
    import tensorflow as tf

    from avse_tf.export.core import EXPORT_REMEDY, check_saved_model, read_export_info
    from avse_tf.systems import get
    from avse_tf.training.checkpoints import model_file_error, short_reason

    # Exports from before the stamp existed were enhancement serving graphs.
    info = read_export_info(saved_model) or {"system": "landmark_enhancement", "graph": "enhance"}
    system = get(info["system"])
    core = str(info.get("graph", "")).startswith("model core")
    expected = None
    if not core and system.export:
        expected = getattr(system.module(system.export), "SAVEDMODEL_INPUTS", None)
    check_saved_model(saved_model, info, expected)
    try:
        if core:
            return ExportedModel(tf.saved_model.load(saved_model), saved_model, system.name, info.get("model"))
        if system.task is None:
            raise UserInputError(f"{path} holds a {system.name} model, and that system has no loader for avse_tf.load")
        return system.resolve(system.task).from_path(path, **options)
    except UserInputError:
        raise
    except Exception as error:  # noqa: BLE001 - TensorFlow raises OSError, IndexError, OpError... for a damaged folder
        raise model_file_error(saved_model, short_reason(error), "SavedModel", EXPORT_REMEDY) from None


def _loaded(model, system_name):
    model = load(model) if isinstance(model, (str, os.PathLike)) else model
    if getattr(model, "system", None) != system_name:
        raise UserInputError(f"{getattr(model, 'source', model)} is a {getattr(model, 'system', '?')} model; "
                             f"this helper needs a {system_name} model")
    return model


def enhance(waveform, landmarks, model, length_policy="error"):
    """Enhance ``waveform`` with ``landmarks`` using ``model`` (a loaded enhancement model or a path).

    NaN / Inf or durations more than two video frames apart raise typed errors; ``length_policy``
    ``pad`` / ``trim`` accepts the latter (:func:`avse_tf.validation.match_durations`)."""
    return _loaded(model, "landmark_enhancement").enhance(waveform, landmarks, length_policy)


def enhance_file(audio, landmarks_or_video, model, output=None, shape_predictor=None, length_policy="error"):
    """Enhance a file; see :meth:`avse_tf.systems.landmark_enhancement.serving.Enhancer.enhance_file`."""
    return _loaded(model, "landmark_enhancement").enhance_file(audio, landmarks_or_video, output, shape_predictor,
                                                               length_policy=length_policy)


def inpaint_file(audio, output, model, gaps=None, video=None, **options):
    """Inpaint the gaps of a file; see :func:`avse_tf.systems.av_inpainting.inpaint.inpaint_file`."""
    return _loaded(model, "av_inpainting").inpaint_file(audio, output, gaps, video, **options)


def speech_to_video(audio, face, output, model, **options):
    """A video of ``face`` speaking ``audio``; see :func:`avse_tf.systems.speech2vid.predict.predict`."""
    return _loaded(model, "speech2vid").speech_to_video(audio, face, output, **options)


def __getattr__(name):
    if name == "Enhancer":  # moved with the enhancement system
        from avse_tf._deprecation import moved

        return moved("avse_tf.api.Enhancer", "avse_tf.systems.landmark_enhancement.serving", name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

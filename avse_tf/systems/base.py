"""What a system declares: the one record the registry holds per published system.

A system is one paper's models and everything only they need, in one folder
``avse_tf/systems/<name>/``. Its ``__init__.py`` defines ``SYSTEM = System(...)`` and imports
nothing heavy (no TensorFlow), so that ``avse --help`` and :func:`avse_tf.list_presets` stay fast;
the hooks below are ``"module:attribute"`` strings relative to the system's package, resolved on
first use.
"""

from __future__ import annotations

import dataclasses
import importlib
from importlib import resources


@dataclasses.dataclass(frozen=True)
class System:
    """One published system.

    Attributes:
        name: registry key and folder name (the paper's system, e.g. ``"landmark_enhancement"``).
        title: one line for ``avse --help`` and tables.
        paper: short citation (authors, venue, year).
        cli_group: the ``avse`` sub-command group (``"enhancement"``), the seed's name.
        models: the model ids the system builds and its training command accepts (``--model``);
            the first is the default.
        package: the Python package of the folder (set by :func:`avse_tf.systems.register`'s
            caller; systems inside avse_tf use ``avse_tf.systems.<name>``).
        auxiliary_models: models that serve the system but are not one of the paper's (the
            inpainting PER recogniser, Speech2Vid's face encoder and deblurring network).
        model_module: module with ``MODEL_BUILDERS`` (model id -> builder) whose import registers
            the system's Keras classes for safe-mode loading; ``None`` for a system that builds no
            model yet (data preparation only, ``models=()``): it has no builders and no Keras classes.
        cli_module: module with ``register(subparsers)`` adding the ``cli_group`` commands.
        record_schema: ``"module:function"`` returning the :class:`avse_tf.records.RecordSchema`
            of the system's records (``None``: no records).
        task: ``"module:Class"`` wrapping a loaded model for :func:`avse_tf.load` (``Class.from_path``).
        streaming: ``"module:function"`` building a streaming processor from a checkpoint path
            (``None``: the system does not stream; ``avse demo`` says so).
        export: module with ``EXPORTERS`` (format -> function) and ``REFUSED`` (format -> the
            reason that format cannot hold the system's models).
        tune: ``"module:function"`` giving ``(train, validation, build_and_compile)`` for
            ``avse tune`` (``None``: not tunable).
        bench: ``"module:function"`` returning the system's benchmark cases for ``tools/bench``.
        preparation: ``"module:Class"``, the system's corpus preparation as a
            :class:`avse_tf.preprocessing.clips.ClipPreparation` (``Class(data_dir, dest_dir,
            **settings)``), which ``avse preprocess <system>`` runs locally or on Apache Beam
            (``None``: the system's preparation is still its own sequence of commands).
    """

    name: str
    title: str
    paper: str
    cli_group: str
    models: tuple
    package: str = ""
    auxiliary_models: tuple = ()
    model_module: str | None = "model"
    cli_module: str = "cli"
    record_schema: str | None = None
    task: str | None = None
    streaming: str | None = None
    export: str | None = None
    tune: str | None = None
    bench: str | None = None
    preparation: str | None = None

    def __post_init__(self):
        if self.model_module is None and (self.models or self.auxiliary_models):
            raise ValueError(f"system {self.name!r} declares models but no model_module to build them")
        if not self.package:
            object.__setattr__(self, "package", f"avse_tf.systems.{self.name}")

    # -- resolution of the hooks ------------------------------------------------------------
    def module(self, relative: str):
        """Import ``<package>.<relative>``."""
        return importlib.import_module(f"{self.package}.{relative}")

    def resolve(self, hook: str | None):
        """The object a ``"module:attribute"`` hook names (``None`` stays ``None``)."""
        if hook is None:
            return None
        module_name, _, attribute = hook.partition(":")
        return getattr(self.module(module_name), attribute)

    def builders(self) -> dict:
        """``{model id: builder}`` of every model the system builds (paper and auxiliary ones)."""
        if self.model_module is None:
            return {}
        return dict(self.module(self.model_module).MODEL_BUILDERS)

    def preset_files(self) -> list:
        """The system's preset JSON files (package data in ``<folder>/presets/``)."""
        try:
            folder = resources.files(self.package).joinpath("presets")
        except ModuleNotFoundError:
            return []
        if not folder.is_dir():
            return []
        return sorted((entry for entry in folder.iterdir() if entry.name.endswith(".json")),
                      key=lambda entry: entry.name)

    @property
    def all_models(self) -> tuple:
        return tuple(self.models) + tuple(self.auxiliary_models)

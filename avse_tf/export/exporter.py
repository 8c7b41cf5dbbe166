"""``avse export``: a trained model of any system in the format a deployment wants.

The checkpoint's system comes from the registry (:func:`avse_tf.systems.system_of_checkpoint`);
its ``export`` module maps each format it can write to a function (``EXPORTERS``) and each format
it cannot hold to the reason (``REFUSED``), which the command prints as one line. Layouts are the
system's (see each ``systems/<system>/export.py``); every export is written to a temporary folder
and renamed into place when complete, and carries ``avse_export.json`` (system, model, format) so
that :func:`avse_tf.load` knows what it holds.

ONNX needs ``tf2onnx``, which does not install alongside TensorFlow >= 2.16 (it pins protobuf
3.20); the command says so instead of writing a half-converted graph.
"""

from __future__ import annotations

from avse_tf.errors import UserInputError

FORMATS = ("savedmodel", "keras", "tflite", "onnx")


def export_support() -> list:
    """``[(system, format, None or the reason it cannot be exported)]`` over the registry."""
    from avse_tf.systems import all_systems

    rows = []
    for system in all_systems():
        module = system.module(system.export) if system.export else None
        for export_format in FORMATS:
            if module is None:
                reason = "the system declares no export"
            elif export_format in getattr(module, "EXPORTERS", {}):
                reason = None
            else:
                reason = getattr(module, "REFUSED", {}).get(export_format, "not implemented")
            rows.append((system.name, export_format, reason))
    return rows


def refusals_text() -> str:
    """One line per system and format that cannot be exported, and why."""
    return "; ".join(f"{system} cannot be exported as {fmt}: {reason}"
                     for system, fmt, reason in export_support() if reason)


def export_model(checkpoint, export_format="savedmodel", output="exported", version=1, norm_file=None,
                 num_frames=302) -> str:
    """Export ``checkpoint`` (``.keras`` or experiment folder) of any system; returns the written path."""
    from avse_tf.systems import system_of_checkpoint

    if export_format not in FORMATS:
        raise UserInputError(f"unknown export format {export_format!r}; choose {', '.join(FORMATS)}")
    if export_format == "onnx":
        try:
            import tf2onnx  # noqa: F401
        except ImportError:
            raise UserInputError("ONNX export needs tf2onnx, which cannot be installed next to TensorFlow >= 2.16 "
                                 "(it pins protobuf 3.20); use --format savedmodel or tflite") from None
    system, model_id = system_of_checkpoint(checkpoint)
    for name, fmt, reason in export_support():
        if name == system.name and fmt == export_format and reason:
            raise UserInputError(f"{checkpoint} holds {model_id} ({system.name}), which cannot be exported as "
                                 f"{export_format}: {reason}")
    exporter = system.module(system.export).EXPORTERS[export_format]
    return exporter(checkpoint, output, version=version, norm_file=norm_file, num_frames=num_frames)

"""Distribution strategy from a command-line choice.

``auto``: MirroredStrategy over all visible GPUs when there are several, else the default
(single-device) strategy. ``one_device``, ``mirrored`` and ``multi_worker`` (reads ``TF_CONFIG``)
select explicitly. ``gpus`` ("0,1") restricts the visible GPUs first.
"""

from __future__ import annotations

from avse_tf.errors import UserInputError


def get_strategy(name: str = "auto", gpus: str | None = None):
    import tensorflow as tf

    if gpus not in (None, ""):
        physical = tf.config.list_physical_devices("GPU")
        try:
            chosen = [physical[int(index)] for index in str(gpus).split(",") if index.strip() != ""]
        except (ValueError, IndexError):
            raise UserInputError(f"--gpu {gpus}: this machine has {len(physical)} GPU(s)") from None
        tf.config.set_visible_devices(chosen, "GPU")
    logical_gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        return tf.distribute.MirroredStrategy() if len(logical_gpus) > 1 else tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if logical_gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise UserInputError(f"unknown strategy {name!r}; choose auto, one_device, mirrored or multi_worker")

"""Distribution strategy, mixed precision and determinism from command-line choices.

``auto``: MirroredStrategy over all visible GPUs when there are several, else the default
(single-device) strategy. ``one_device``, ``mirrored`` and ``multi_worker`` select explicitly;
``multi_worker`` reads the standard ``TF_CONFIG`` (cluster + this task), so one command scales from
one machine to a cluster. Batch sizes are global: each of N replicas gets ``batch_size / N``.

The seeds' spellings are accepted: ``--gpu 0,1`` (enhancement, inpainting), ``-gpu N`` (speech2vid:
the number of GPUs) and ``--dataparallel`` (= ``--strategy mirrored``). ``--cpu_replicas N`` splits
the CPU into N logical devices so data-parallel training can be tried (and is tested) without GPUs.
"""

from __future__ import annotations

import json
import os

from avse_tf.errors import UserInputError

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


def add_distribution_args(parser) -> None:
    """The distribution / precision / determinism flags every training command takes."""
    group = parser.add_argument_group("distribution")
    group.add_argument("--strategy", choices=STRATEGIES, default="auto",
                       help="auto: mirrored over all GPUs when there are several; multi_worker reads TF_CONFIG")
    group.add_argument("--gpu", "-gpu", dest="gpu", default=None,
                       help="GPUs to use: a list (0,1) or, with a single number and -gpu, the count (seed spelling)")
    group.add_argument("--dataparallel", action="store_true", help="same as --strategy mirrored (seed spelling)")
    group.add_argument("--cpu_replicas", type=int, default=None,
                       help="split the CPU into N logical devices (data-parallel training without GPUs)")
    group.add_argument("--mixed_precision", action="store_true",
                       help="float16 compute with float32 variables and outputs (for GPUs)")


def strategy_from_args(args):
    """Apply ``add_distribution_args`` flags (precision, devices) and return the strategy."""
    if getattr(args, "mixed_precision", False):
        set_mixed_precision(True)
    name = "mirrored" if getattr(args, "dataparallel", False) and args.strategy == "auto" else args.strategy
    return get_strategy(name, getattr(args, "gpu", None), getattr(args, "cpu_replicas", None))


def set_mixed_precision(enabled: bool = True) -> None:
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16" if enabled else "float32")


def set_determinism(seed) -> None:
    """Seed Python, NumPy and TF, and make TF ops deterministic (same losses on every run)."""
    import keras
    import tensorflow as tf

    if seed is None:
        return
    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def configure_cpu_replicas(count: int) -> None:
    """Split the first CPU into ``count`` logical devices; must run before TensorFlow uses a device."""
    import tensorflow as tf

    if count is None or count <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(count))
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) != count:
            raise UserInputError(f"--cpu_replicas {count}: TensorFlow's devices were already initialised; "
                                 "pass the flag on a fresh command") from None


def _select_gpus(gpus) -> None:
    import tensorflow as tf

    physical = tf.config.list_physical_devices("GPU")
    text = str(gpus).strip()
    try:
        if "," not in text and text.isdigit() and int(text) > 0 and int(text) >= len(physical) > 1:
            chosen = physical[:int(text)]  # `-gpu N` of the speech2vid seed: use N GPUs
        else:
            chosen = [physical[int(index)] for index in text.split(",") if index.strip() != ""]
    except (ValueError, IndexError):
        raise UserInputError(f"--gpu {gpus}: this machine has {len(physical)} GPU(s); give indices such as 0,1") from None
    tf.config.set_visible_devices(chosen, "GPU")


def get_strategy(name: str = "auto", gpus: str | None = None, cpu_replicas: int | None = None):
    import tensorflow as tf

    if name not in STRATEGIES:
        raise UserInputError(f"unknown strategy {name!r}; choose {', '.join(STRATEGIES)}")
    if name == "multi_worker":
        # Collective ops must be configured before anything else touches the devices.
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    configure_cpu_replicas(cpu_replicas)
    if gpus not in (None, ""):
        _select_gpus(gpus)
    logical_gpus = tf.config.list_logical_devices("GPU")
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    if name == "auto":
        if len(logical_gpus) > 1 or (not logical_gpus and len(cpus) > 1):
            return tf.distribute.MirroredStrategy(None if logical_gpus else cpus)
        return tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if logical_gpus else "/cpu:0")
    return tf.distribute.MirroredStrategy(None if logical_gpus else cpus)


def _check_tf_config() -> None:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise UserInputError("--strategy multi_worker needs TF_CONFIG (cluster and task) in the environment; "
                             "see README, 'Training on several machines'")
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        config["task"]["type"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        raise UserInputError("TF_CONFIG is not valid JSON of the form {\"cluster\": {\"worker\": [...]}, "
                             "\"task\": {\"type\": \"worker\", \"index\": 0}}") from None
    if not workers:
        raise UserInputError("TF_CONFIG lists no workers")


def is_multi_worker(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy=None) -> bool:
    """True on the worker that writes checkpoints and logs (task 0, or no cluster)."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    except ValueError:
        return True
    task = config.get("task", {})
    if not task or (strategy is not None and not is_multi_worker(strategy)):
        return True
    return task.get("type") == "chief" or (task.get("type") == "worker" and int(task.get("index", 0)) == 0
                                            and "chief" not in config.get("cluster", {}))

"""Training of the Morrone et al. 2021 inpainting models on gapped record sets."""

from __future__ import annotations

import logging
import os
import shutil

from avse_tf.constants import NORM_FILE
from avse_tf.errors import UserInputError
from avse_tf.systems.av_inpainting.phone_recognizer import (
    RECOGNIZER_COPIES,
    RECOGNIZER_LEARNING_RATE,
    record_clips,
    train_recognizer,
)
from avse_tf.systems.av_inpainting.pipeline import (
    LEARNING_RATE,
    make_model_dataset,
    records_manifest,
    require_phone_labels,
)

log = logging.getLogger(__name__)


def train(train_records, validation_records, exp_dir, model_name="a_blstm", batch_size=8, epochs=50, patience=5,
          seed=None, hidden_units=250, layers=None, learning_rate=None, verbose="auto", data_dir=None,
          recognizer_copies=RECOGNIZER_COPIES):
    """Train one model (Adam, early stopping on the validation loss; fact sheet "Training").

    The records' normalisation statistics are copied into ``exp_dir`` so the experiment folder is
    all :func:`inpaint_file` needs. For MTL models the monitored validation loss is
    ``L1_gap + 0.001 CTC`` (the original monitored the gap L1 alone). ``learning_rate``: ``None``
    gives the paper's 1e-3 (the recogniser: 3e-3).

    ``model_name="phone_recognizer"`` trains the PER recogniser with :func:`train_recognizer` on the
    clean clips of the two record sets (their speakers and utterances; audio and ``.align`` files
    from ``data_dir``, by default the folder holding the records folder), ``recognizer_copies``
    copies per clip and epoch.
    """
    import keras

    from avse_tf.records import record_errors
    from avse_tf.systems.av_inpainting.model import (
        MODEL_SPECS,
        build_model,
        compile_model,
    )
    from avse_tf.training import fit, make_optimizer

    if model_name not in MODEL_SPECS:
        raise UserInputError(f"unknown model {model_name!r}; choose one of {', '.join(MODEL_SPECS)}")
    if model_name == "phone_recognizer":
        manifest = records_manifest(train_records)
        data_dir = data_dir or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(manifest))))
        with record_errors(manifest), record_errors(records_manifest(validation_records)):
            return train_recognizer(data_dir, record_clips(train_records), record_clips(validation_records),
                                    exp_dir, batch_size, epochs, patience, seed, hidden_units, layers,
                                    learning_rate or RECOGNIZER_LEARNING_RATE, recognizer_copies, verbose=verbose)
    if MODEL_SPECS[model_name]["mtl"]:
        for records in (train_records, validation_records):
            require_phone_labels(records, model_name)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    os.makedirs(exp_dir, exist_ok=True)
    stats = os.path.join(os.path.dirname(os.path.dirname(records_manifest(train_records))), NORM_FILE)
    if os.path.isfile(stats) and not os.path.isfile(os.path.join(exp_dir, NORM_FILE)):
        shutil.copyfile(stats, os.path.join(exp_dir, NORM_FILE))
    train_dataset = make_model_dataset(train_records, model_name, batch_size, shuffle=True, seed=seed)
    validation_dataset = make_model_dataset(validation_records, model_name, batch_size)
    kwargs = {"hidden_units": hidden_units}
    if layers:
        kwargs["num_layers"] = layers
    model = build_model(model_name, **kwargs)
    compile_model(model, make_optimizer("adam", learning_rate or LEARNING_RATE))
    # A damaged record raises DataLossError inside fit: one line naming the shard and record instead.
    with record_errors(records_manifest(train_records)), record_errors(records_manifest(validation_records)):
        return fit(model, train_dataset, validation_dataset, epochs, exp_dir, patience=patience, verbose=verbose)


def tuning_job(train_records, validation_records, model_name, batch_size, seed=None, strategy=None):
    """What ``avse tune inpainting`` searches: gapped record datasets and compiled inpainting models
    for the searched units, layers and learning rate (the models have no dropout), and the model's
    preset the best values are written into."""
    from avse_tf.systems.av_inpainting.model import (
        INPAINTING_MODELS,
        build_model,
        compile_model,
    )
    from avse_tf.systems.presets import get_preset, list_presets
    from avse_tf.training import get_strategy, make_optimizer

    if model_name not in INPAINTING_MODELS:
        raise UserInputError(f"avse tune inpainting searches {', '.join(INPAINTING_MODELS)}, not {model_name!r}")
    strategy = strategy or get_strategy("auto")
    base = get_preset(list_presets(model=model_name)[0])
    train_dataset = make_model_dataset(train_records, model_name, batch_size, shuffle=True, seed=seed)
    validation_dataset = make_model_dataset(validation_records, model_name, batch_size)

    def build(hidden_units, num_layers, learning_rate):
        with strategy.scope():
            model = build_model(model_name, hidden_units=hidden_units, num_layers=num_layers)
            return compile_model(model, make_optimizer("adam", learning_rate))

    return train_dataset, validation_dataset, build, base, ("hidden_units", "num_layers", "learning_rate")

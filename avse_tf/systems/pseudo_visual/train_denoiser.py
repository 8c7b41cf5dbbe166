"""``avse denoising train``: the seed's ``train.py`` (the denoiser) on the shared platform.

Inputs as ``train_student``'s (:mod:`.train_student`): ``avse denoising preprocess`` folders (the
seed's LRS3 pretrain and trainval roots; training clips of both, validation from the second),
noise from ``noise_data_root`` or the shared bank written into ``<checkpoint_dir>/noise_bank``
(training kinds only), the frozen student from ``train_student`` (``--lipsync_student_model_path``;
a PyTorch ``.pth`` is refused in one line). ``visual`` picks the visual stream
(:mod:`.denoiser_training`): ``pseudo`` (the paper's system), ``none`` (the audio-only ablation, no
student needed) or ``real`` (the corpus's lips).

Outputs: the shared ``fit`` folder (resumable; ``best.keras`` = the whole :class:`DenoiserTraining`
with the lowest validation L1, student inside) and ``denoiser.keras``, the denoiser alone.
"""

from __future__ import annotations

import os

from avse_tf.constants import BEST_CHECKPOINT

DENOISER_CHECKPOINT = "denoiser.keras"


def load_denoising(path, flag="--checkpoint_path"):
    """The whole :class:`DenoiserTraining` (denoiser, visual stream and student) from a ``train``
    folder or its ``best.keras``."""
    from avse_tf.systems.pseudo_visual.denoiser_training import DenoiserTraining
    from avse_tf.systems.pseudo_visual.train_teacher import load_checkpoint

    model = load_checkpoint(path, "denoiser checkpoint", flag)
    if not isinstance(model, DenoiserTraining):
        from avse_tf.errors import ModelFileError

        raise ModelFileError(f"{flag} {path} is not a denoiser (an `avse denoising train` folder or its best.keras)")
    return model


def train_denoiser(data_root_pretrain, checkpoint_dir, student_checkpoint=None, data_root_train=None,
                   noise_data_root=None, preset="pseudo_visual_denoiser_cpu", visual="pseudo", batch_size=None,
                   epochs=None, steps_per_epoch=None, learning_rate=None, patience=None, seed=None, strategy=None,
                   verbose="auto", initial_checkpoint=None) -> dict:
    """Train the denoiser (module doc); unset arguments take the preset's ``training`` values.
    ``initial_checkpoint``: a denoiser whose weights start the run (the seed's ``--checkpoint_path``;
    resuming needs nothing: rerun the same command). Returns the fit summary plus ``denoiser``."""
    import keras

    from avse_tf.errors import UserInputError
    from avse_tf.records import record_errors
    from avse_tf.systems.presets import from_preset
    from avse_tf.systems.pseudo_visual.denoiser_data import make_denoiser_dataset
    from avse_tf.systems.pseudo_visual.denoiser_training import VISUAL_STREAMS, DenoiserTraining
    from avse_tf.systems.pseudo_visual.train_student import (load_student, lrs3_records, preset_schedule,
                                                             student_noise)
    from avse_tf.systems.pseudo_visual.train_teacher import validation_steps_of
    from avse_tf.training import fit, get_strategy
    from avse_tf.utils import atomic_path

    if visual not in VISUAL_STREAMS:
        raise UserInputError(f"--visual {visual}: unknown; choose one of {', '.join(VISUAL_STREAMS)}")
    if visual == "pseudo" and not student_checkpoint:
        raise UserInputError("the pseudo-lip denoiser needs --lipsync_student_model_path (a `denoising "
                             "train_student` folder or its student.keras); --visual none trains the audio-only one")
    settings, batch_size, epochs, learning_rate = preset_schedule(preset, batch_size, epochs, learning_rate)
    train_records, validation_records = lrs3_records(data_root_pretrain, data_root_train)
    student = load_student(student_checkpoint, "--lipsync_student_model_path") if visual == "pseudo" else None
    os.makedirs(checkpoint_dir, exist_ok=True)
    noise = student_noise(noise_data_root, checkpoint_dir, seed or 0)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    strategy = strategy or get_strategy("auto")
    train_data = make_denoiser_dataset(train_records, noise, batch_size, seed=seed, repeat=True,
                                       drop_remainder=strategy.num_replicas_in_sync > 1)
    validation_data = make_denoiser_dataset(validation_records, noise, batch_size, shuffle=False, seed=1234)
    with strategy.scope():
        model = DenoiserTraining(from_preset(preset), student, visual)
        if initial_checkpoint:
            model.denoiser.set_weights(load_denoising(initial_checkpoint).denoiser.get_weights())
        model.compile(keras.optimizers.Adam(learning_rate))
    with record_errors(train_records[0]), record_errors(validation_records):
        summary = fit(model, train_data, validation_data, epochs, checkpoint_dir, patience=patience or epochs + 1,
                      steps_per_epoch=int(steps_per_epoch or settings.get("steps_per_epoch") or 1),
                      validation_steps=validation_steps_of(validation_records, batch_size), verbose=verbose)
    denoiser_path = os.path.join(checkpoint_dir, DENOISER_CHECKPOINT)
    if not os.path.isfile(denoiser_path):
        best = load_denoising(os.path.join(checkpoint_dir, BEST_CHECKPOINT))
        with atomic_path(denoiser_path) as temporary:
            best.denoiser.save(temporary)
    return {**summary, "denoiser": denoiser_path}


__all__ = ["train_denoiser", "load_denoising", "DENOISER_CHECKPOINT"]

"""Optimisers with the original codes' schedules: staircase exponential decay (Morrone 2019),
multi-step decay (VCA-GAN, torch's MultiStepLR).

Morrone 2019 CLI: ``--opt sgd|adam|momentum`` (momentum 0.9), ``--learning_rate``,
``--updating_step`` (decay every N optimiser steps) and ``--learning_decay`` (multiplicative
factor); no decay when either is unset.
"""

from __future__ import annotations

from avse_tf.errors import UserInputError


def make_optimizer(name: str = "adam", learning_rate: float = 1e-3, updating_step: int | None = None,
                   learning_decay: float | None = None, clipnorm: float | None = None):
    import keras

    schedule = learning_rate
    if updating_step and learning_decay and learning_decay != 1.0:
        schedule = keras.optimizers.schedules.ExponentialDecay(
            learning_rate, decay_steps=int(updating_step), decay_rate=float(learning_decay), staircase=True)
    options = {"clipnorm": clipnorm} if clipnorm else {}
    if name == "adam":
        return keras.optimizers.Adam(schedule, **options)
    if name == "sgd":
        return keras.optimizers.SGD(schedule, **options)
    if name == "momentum":
        return keras.optimizers.SGD(schedule, momentum=0.9, **options)
    raise UserInputError(f"unknown optimiser {name!r}; choose sgd, adam or momentum")


def multistep_decay(learning_rate: float, boundaries, gamma: float = 0.1):
    """torch's ``MultiStepLR`` as a Keras schedule: ``learning_rate x gamma^k`` after the k-th of
    ``boundaries`` (optimiser steps, increasing; epochs x steps per epoch for a per-epoch milestone)."""
    import keras

    boundaries = [int(step) for step in boundaries]
    if not boundaries:
        return float(learning_rate)
    if boundaries != sorted(set(boundaries)) or boundaries[0] < 0:
        raise UserInputError(f"learning-rate milestones must increase and not be negative, got {boundaries}")
    values = [float(learning_rate) * float(gamma) ** index for index in range(len(boundaries) + 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)

"""VCA-GAN (Kim, Hong, Ro, NeurIPS 2021): the whole GAN as one ``keras.Model`` with its own
``train_step`` (fact sheet shared/papers/vcagan_lip2speech.md, "Model"; original ``train.py``).

Parts (attributes, each a functional ``keras.Model``): ``frontend``
(:mod:`~avse_tf.systems.vca_gan.visual_frontend`), ``generator`` and ``postnet``
(:mod:`~avse_tf.systems.vca_gan.generator`), ``mel_discriminators`` (20, 40, 80 rows) and
``sync_discriminator`` (:mod:`~avse_tf.systems.vca_gan.discriminators`).

``model({"video" [B, T, 112, 112, 1], "video_length" [B]})`` -> ``{"mel_20" [B, T, 20], "mel_40"
[B, 2T, 40], "mel" [B, 4T, 80], "linear" [B, 4T, 321]}`` (inference: no dropout, BN statistics,
fixed noise draw). Training batches are the reader's (``make_lip2speech_dataset``): ``video``,
``video_length``, ``mel``, ``linear`` (other keys ignored).

One training step, as the original's: the generator side runs once; the discriminators (three mel
scales and sync) take one step on detached outputs with ``(real + fake) / 3 + r1 / 3 + InfoNCE``;
then the generator side takes one step on ``adversarial / 3 + sync + 50 x reconstruction``,
scored by the updated discriminators. The visual front-end also receives the InfoNCE gradient,
as in the original (its discriminator loss backpropagates into the front-end, whose gradient is
kept for the generator step); here that term is evaluated with the updated sync discriminator
(the original: before its update). Two optimisers (``compile(generator_optimizer=...,
discriminator_optimizer=...)``; :func:`make_optimizers`: Adam amsgrad 1e-4, multi-step decay);
weight decay 1e-5 is added to the gradients (torch ``Adam(weight_decay=...)``, L2, not AdamW).
``loss_weights={"adversarial": 0, "sync": 0}`` is the regression-only baseline (issue 18: the
same generator without the GAN): the discriminators take no step and the generator side minimises
``50 x reconstruction`` alone.
Logged (and in TensorBoard): ``loss`` (reconstruction L1, the same quantity as ``val_loss``),
``g_loss``, ``g_adversarial``, ``g_sync``, ``mel_l1``, ``linear_l1``, ``d_loss``,
``d_adversarial``, ``r1``, ``sync_nce``.
"""

from __future__ import annotations

import keras

from avse_tf.systems.vca_gan import losses
from avse_tf.systems.vca_gan.discriminators import mel_discriminator, sync_discriminator
from avse_tf.systems.vca_gan.features import NUM_LINEAR_BINS, NUM_MELS
from avse_tf.systems.vca_gan.generator import generator, postnet
from avse_tf.systems.vca_gan.visual_frontend import channels, visual_frontend

LOSS_WEIGHTS = {"reconstruction": 50.0, "adversarial": 1.0, "sync": 1.0, "r1": 1.0, "weight_decay": 1e-5,
                "sync_temperature": 1.0}
TRAIN_METRICS = ("loss", "g_loss", "g_adversarial", "g_sync", "mel_l1", "linear_l1", "d_loss", "d_adversarial",
                 "r1", "sync_nce")


@keras.saving.register_keras_serializable(package="avse_tf")
class VCAGAN(keras.Model):
    """VCA-GAN (module doc). Arguments scale the paper's network: ``width`` every channel count
    and GRU size (1.0 = paper), ``resnet_blocks`` the ResNet-18 depth per stage, ``gru_layers``,
    ``blocks_per_stage`` (generator, 3), ``postnet_blocks`` (3); ``noise_seed`` fixes inference noise."""

    def __init__(self, crop_size=112, width=1.0, resnet_blocks=(2, 2, 2, 2), gru_layers=2, noise_channels=128,
                 blocks_per_stage=3, attention_dim=256, postnet_blocks=3, dropout=0.3, noise_seed=0, name="vca_gan",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.architecture = {"crop_size": int(crop_size), "width": float(width),
                             "resnet_blocks": [int(b) for b in resnet_blocks], "gru_layers": int(gru_layers),
                             "noise_channels": int(noise_channels), "blocks_per_stage": int(blocks_per_stage),
                             "attention_dim": int(attention_dim), "postnet_blocks": int(postnet_blocks),
                             "dropout": float(dropout), "noise_seed": int(noise_seed)}
        feature_dim = channels(512, width)
        self.frontend = visual_frontend(crop_size, width, resnet_blocks, 512, gru_layers, dropout)
        self.generator = generator(feature_dim, width, noise_channels, blocks_per_stage, attention_dim, noise_seed)
        self.postnet = postnet(NUM_MELS, NUM_LINEAR_BINS, width, postnet_blocks)
        self.mel_discriminators = [mel_discriminator(rows, feature_dim, width) for rows, _ in losses.MEL_SCALES]
        self.sync_discriminator = sync_discriminator(NUM_MELS, feature_dim, width)
        self.loss_weights = dict(LOSS_WEIGHTS)
        self.generator_optimizer = self.discriminator_optimizer = None
        self.trackers = {name: keras.metrics.Mean(name=name) for name in TRAIN_METRICS}
        self.built = True

    # -- inference -------------------------------------------------------------------------
    def call(self, inputs, training=False):
        lengths = inputs["video_length"]
        local, context = self.frontend([inputs["video"], lengths], training=training)
        return self.decode(local, context, lengths, training=training)

    def decode(self, local, context, lengths, training=False):
        """The generator side after the front-end: its ``(local, context)`` features -> the outputs of
        :meth:`call` (for callers that also need the features, without running the front-end twice)."""
        mel_20, mel_40, mel = self.generator([local, context, lengths], training=training)
        return {"mel_20": mel_20, "mel_40": mel_40, "mel": mel, "linear": self.postnet(mel, training=training)}

    @property
    def generator_variables(self):
        return [*self.frontend.trainable_variables, *self.generator.trainable_variables,
                *self.postnet.trainable_variables]

    @property
    def discriminator_variables(self):
        return [v for d in (*self.mel_discriminators, self.sync_discriminator) for v in d.trainable_variables]

    def get_config(self):
        config = {key: list(value) if key == "resnet_blocks" else value for key, value in self.architecture.items()}
        return {**config, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    # -- training --------------------------------------------------------------------------
    def compile(self, generator_optimizer=None, discriminator_optimizer=None, loss_weights=None, **kwargs):
        """Two optimisers (default: :func:`make_optimizers`), built at once so that a backup restores
        their state before the first step; ``loss_weights`` overrides :data:`LOSS_WEIGHTS`."""
        if generator_optimizer is None or discriminator_optimizer is None:
            generator_optimizer, discriminator_optimizer = make_optimizers()
        super().compile(optimizer=generator_optimizer, **kwargs)
        self.generator_optimizer, self.discriminator_optimizer = generator_optimizer, discriminator_optimizer
        self.loss_weights = {**LOSS_WEIGHTS, **(loss_weights or {})}
        generator_optimizer.build(self.generator_variables)
        discriminator_optimizer.build(self.discriminator_variables)

    def get_compile_config(self):
        serialize = keras.saving.serialize_keras_object
        return {"generator_optimizer": serialize(self.generator_optimizer),
                "discriminator_optimizer": serialize(self.discriminator_optimizer), "loss_weights": self.loss_weights}

    def compile_from_config(self, config):
        deserialize = keras.saving.deserialize_keras_object
        self.compile(deserialize(config["generator_optimizer"]), deserialize(config["discriminator_optimizer"]),
                     config.get("loss_weights"))

    @property
    def metrics(self):
        return list(self.trackers.values())

    def _apply(self, optimizer, loss, tape, variables):
        import tensorflow as tf

        # The optimiser sums gradients over replicas: each replica contributes its share of the mean.
        scale = 1.0 / self.distribute_strategy.num_replicas_in_sync
        decay = self.loss_weights["weight_decay"]
        gradients = [g if g is None else scale * (g + decay * tf.cast(v, g.dtype))
                     for g, v in zip(tape.gradient(loss, variables), variables)]
        optimizer.apply_gradients([(g, v) for g, v in zip(gradients, variables) if g is not None])

    @property
    def regression_only(self) -> bool:
        return not (self.loss_weights.get("adversarial", 1.0) or self.loss_weights.get("sync", 1.0))

    def train_step(self, data):
        import tensorflow as tf

        data = _batch_dict(data)
        weights = self.loss_weights
        video, lengths = data["video"], tf.cast(data["video_length"], tf.int32)
        targets = losses.mel_pyramid(tf.cast(data["mel"], tf.float32))
        with tf.GradientTape() as generator_tape:
            local, context = self.frontend([video, lengths], training=True)
            fakes = self.generator([local, context, lengths], training=True)
            predicted_linear = self.postnet(fakes[-1], training=True)
            mel_l1, linear_l1 = losses.reconstruction_losses(targets, fakes, data["linear"], predicted_linear, lengths)
            reconstruction = mel_l1 + linear_l1
        values = {"loss": reconstruction, "mel_l1": mel_l1, "linear_l1": linear_l1}
        if self.regression_only:
            with generator_tape:
                total = weights["reconstruction"] * reconstruction
            self._apply(self.generator_optimizer, total, generator_tape, self.generator_variables)
            return self._track({**values, "g_loss": total})
        condition = tf.stop_gradient(context)

        with tf.GradientTape() as discriminator_tape:
            d_adversarial, r1 = 0.0, 0.0
            for discriminator, real, fake in zip(self.mel_discriminators, targets, fakes):
                with tf.GradientTape() as r1_tape:
                    r1_tape.watch(real)
                    real_unconditional, real_conditional = discriminator([real, condition], training=True)
                    real_sum = tf.reduce_sum(real_unconditional)
                r1 += losses.r1_penalty(r1_tape.gradient(real_sum, real))
                fake_unconditional, fake_conditional = discriminator([tf.stop_gradient(fake), condition], training=True)
                d_adversarial += (losses.real_loss(real_unconditional) + losses.real_loss(real_conditional)
                                  + losses.fake_loss(fake_unconditional) + losses.fake_loss(fake_conditional))
            d_adversarial, r1 = d_adversarial / 3, r1 / 3
            audio = self.sync_discriminator(targets[-1], training=True)
            sync_nce = losses.info_nce(tf.stop_gradient(local), audio, weights["sync_temperature"])
            d_loss = weights["adversarial"] * d_adversarial + weights["r1"] * r1 + weights["sync"] * sync_nce
        self._apply(self.discriminator_optimizer, d_loss, discriminator_tape, self.discriminator_variables)

        with generator_tape:  # resumed: the generator's forward pass is already on this tape
            g_adversarial = 0.0
            for discriminator, fake in zip(self.mel_discriminators, fakes):
                unconditional, conditional = discriminator([fake, condition], training=True)
                g_adversarial += losses.real_loss(unconditional) + losses.real_loss(conditional)
            g_adversarial = g_adversarial / 3
            g_sync = losses.sync_generator_loss(tf.stop_gradient(local), self.sync_discriminator(fakes[-1], training=True))
            g_loss = (weights["adversarial"] * g_adversarial + weights["sync"] * g_sync
                      + weights["reconstruction"] * reconstruction)
            frontend_nce = losses.info_nce(local, self.sync_discriminator(targets[-1], training=True),
                                           weights["sync_temperature"])
            total = g_loss + weights["sync"] * frontend_nce
        self._apply(self.generator_optimizer, total, generator_tape, self.generator_variables)
        values.update({"g_loss": g_loss, "g_adversarial": g_adversarial, "g_sync": g_sync, "d_loss": d_loss,
                       "d_adversarial": d_adversarial, "r1": r1, "sync_nce": sync_nce})
        return self._track(values)

    def test_step(self, data):
        import tensorflow as tf

        data = _batch_dict(data)
        lengths = tf.cast(data["video_length"], tf.int32)
        outputs = self({"video": data["video"], "video_length": lengths}, training=False)
        targets = losses.mel_pyramid(tf.cast(data["mel"], tf.float32))
        predictions = [outputs["mel_20"], outputs["mel_40"], outputs["mel"]]
        mel_l1, linear_l1 = losses.reconstruction_losses(targets, predictions, data["linear"], outputs["linear"], lengths)
        return self._track({"loss": mel_l1 + linear_l1, "mel_l1": mel_l1, "linear_l1": linear_l1})

    def _track(self, values):
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: self.trackers[name].result() for name in values}


def _batch_dict(data):
    """The batch dict: ``train_on_batch(batch)`` and ``fit(x=batch)`` hand the step ``(x, y,
    sample_weight)`` tuples (the benchmark trains this way); ``fit`` on the reader's dataset, the dict."""
    return data[0] if isinstance(data, (tuple, list)) else data


def multistep_milestones(steps_per_epoch, epochs=(500, 800)):
    """The original's ``MultiStepLR([500, 800], gamma 0.1)`` (per epoch) as optimiser-step boundaries:
    the schedule decays after step ``boundary``, so the first step of epoch 500 (step 500 x
    steps_per_epoch, counted from 0) is the first at the lower rate."""
    return [int(epoch) * int(steps_per_epoch) - 1 for epoch in epochs]


def make_optimizers(learning_rate=1e-4, steps_per_epoch=None, milestone_epochs=(500, 800), gamma=0.1):
    """``(generator, discriminator)`` Adam (amsgrad) optimisers, lr 1e-4 divided by 10 at epochs 500
    and 800 (needs ``steps_per_epoch``; ``None``: constant)."""
    from avse_tf.training.optimizers import multistep_decay

    def schedule():
        if not steps_per_epoch:
            return float(learning_rate)
        return multistep_decay(learning_rate, multistep_milestones(steps_per_epoch, milestone_epochs), gamma)

    return (keras.optimizers.Adam(schedule(), amsgrad=True, name="generator_adam"),
            keras.optimizers.Adam(schedule(), amsgrad=True, name="discriminator_adam"))


def vca_gan(crop_size=112, width=1.0, resnet_blocks=(2, 2, 2, 2), gru_layers=2, noise_channels=128,
            blocks_per_stage=3, attention_dim=256, postnet_blocks=3, dropout=0.3, noise_seed=0, name="vca_gan"):
    """Build VCA-GAN (arguments: :class:`VCAGAN`)."""
    return VCAGAN(crop_size, width, resnet_blocks, gru_layers, noise_channels, blocks_per_stage, attention_dim,
                  postnet_blocks, dropout, noise_seed, name=name)


MODEL_BUILDERS = {"vca_gan": vca_gan}

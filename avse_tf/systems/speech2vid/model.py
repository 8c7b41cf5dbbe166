"""Speech2Vid, "You said that?" (Chung, Jamaludin, Zisserman, BMVC 2017, arXiv 1705.02966).

A talking face from speech and still images: an audio encoder over a 12 x 35 MFCC window (0.35 s,
c0 dropped), an identity encoder over K aligned still faces concatenated channel-wise (the paper's
K = 5, 112 x 112 x 15; K = 1 also works), and an image decoder with three skip connections from
the identity encoder, producing one face per 25 fps video frame. Trained with an L1 pixel loss
plus a content loss (L1 between intermediate feature maps of a frozen face encoder, §3.3), and
followed by a separate deblurring refinement network (§3.4). Three registered Keras models:

========================== ==================================================== ======================
model                      inputs                                               output
========================== ==================================================== ======================
:class:`Speech2VidModel`   ``mfcc`` [B, 12, 35]; ``identity`` [B, S, S, 3K] in  ``face`` [B, S, S, 3]
                           [0, 1]; with ``masked_target``: ``masked_target``     (sigmoid, float32)
                           [B, S, S, 3] (the seed re-implementation's variant)
:func:`deblur_network`     ``image`` [B, H, W, 3]                               ``image + R(image)``
:func:`face_encoder`       ``face`` [B, S, S, 3]                                 68 landmarks / S [136]
========================== ==================================================== ======================

Architecture (paper Fig. 2 and §3.2, with the paper's layer sizes; ``width`` scales every channel
count so tests can use narrow networks; ``S`` is a multiple of 16, paper 112):

* audio encoder: conv3x3 64, conv3x3 128, max-pool 3x3 stride (1, 2), conv3x3 256 x 3, max-pool
  3x3 stride 2 (padded to 5 x 8), fc6 = conv 5x8 512, fc7 = conv1x1 256; batch norm + ReLU after
  each conv. The MFCCs are normalised per coefficient inside the model (``mfcc_mean`` /
  ``mfcc_std``, training-set statistics kept in the config), so a checkpoint needs no side file.
* identity encoder (VGG-M-like): conv7x7/2 96, max-pool 3x3/2 (skip 1, S/4), conv5x5/2 256 (skip 2,
  S/8), max-pool 3x3/2 (skip 3, S/16), conv3x3 512 x 3, fc6 = conv over the whole S/16 map 512
  (the paper's 6x6 at its 7x7 map), fc7 = conv1x1 256.
* decoder: concat(256 + 256), conv1x1 128 (fc8), transposed conv to S/16 x S/16 x 512, conv 256,
  concat skip 3, then four stride-2 4x4 transposed convs each followed by a 3x3 conv (256, 96,
  64, 32 channels) with skips 2 and 1 concatenated after the first two, conv3x3 3 + sigmoid.
  Output S x S (112, as the seed's re-implementation, instead of the paper's 109 x 109).

``masked_target=True`` is the seed re-implementation's input (shared/seeds/002): the ground-truth
frame with its lower half zeroed is concatenated to the identity images, giving the decoder the
target's pose; at prediction time the identity image's upper half takes its place.
"""

from __future__ import annotations

import keras

AUDIO_SHAPE = (12, 35)
LANDMARK_DIM = 136
CONTENT_LAYERS = ("encoder_block1", "encoder_block2", "encoder_block3")


def _channels(count, width):
    return max(4, int(round(count * float(width))))


def _conv(x, filters, kernel, name, strides=1, padding="same", activation=True):
    """Conv -> batch norm -> ReLU (the paper: "batch normalisation after each layer")."""
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if activation else x


def _deconv(x, filters, kernel, strides, padding, name):
    x = keras.layers.Conv2DTranspose(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def _audio_encoder(mfcc, width, mean, std):
    rows, columns = AUDIO_SHAPE
    x = keras.layers.Normalization(axis=1, mean=mean, variance=[float(s) ** 2 for s in std], name="mfcc_norm")(mfcc)
    x = keras.layers.Reshape((rows, columns, 1), name="mfcc_image")(x)
    x = _conv(x, _channels(64, width), 3, "audio_conv1")
    x = _conv(x, _channels(128, width), 3, "audio_conv2")
    x = keras.layers.MaxPooling2D(3, strides=(1, 2), name="audio_pool2")(x)  # 12x35 -> 10x17
    for index in (3, 4, 5):
        x = _conv(x, _channels(256, width), 3, f"audio_conv{index}")
    x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name="audio_pool5_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="audio_pool5")(x)  # -> 5x8
    x = _conv(x, _channels(512, width), tuple(x.shape[1:3]), "audio_fc6", padding="valid")
    return _conv(x, _channels(256, width), 1, "audio_fc7")


def _identity_encoder(identity, image_size, width):
    x = _conv(identity, _channels(96, width), 7, "identity_conv1", strides=2)
    skip1 = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="identity_pool1")(x)  # S/4
    skip2 = _conv(skip1, _channels(256, width), 5, "identity_conv2", strides=2)  # S/8
    skip3 = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="identity_pool2")(skip2)  # S/16
    x = skip3
    for index in (3, 4, 5):
        x = _conv(x, _channels(512, width), 3, f"identity_conv{index}")
    x = _conv(x, _channels(512, width), image_size // 16, "identity_fc6", padding="valid")
    return _conv(x, _channels(256, width), 1, "identity_fc7"), (skip1, skip2, skip3)


def _graph(image_size, num_identity, masked_target, width, mfcc_mean, mfcc_std):
    if image_size % 16 or image_size < 32:
        raise ValueError(f"image_size must be a multiple of 16 and at least 32, got {image_size}")
    if num_identity < 1:
        raise ValueError(f"num_identity must be at least 1, got {num_identity}")
    inputs = {"mfcc": keras.Input(AUDIO_SHAPE, name="mfcc"),
              "identity": keras.Input((image_size, image_size, 3 * num_identity), name="identity")}
    identity = inputs["identity"]
    if masked_target:
        inputs["masked_target"] = keras.Input((image_size, image_size, 3), name="masked_target")
        identity = keras.layers.Concatenate(name="identity_and_masked_target")([identity, inputs["masked_target"]])
    audio = _audio_encoder(inputs["mfcc"], width, mfcc_mean, mfcc_std)
    face, (skip1, skip2, skip3) = _identity_encoder(identity, image_size, width)
    x = keras.layers.Concatenate(name="audio_identity")([audio, face])
    x = _conv(x, _channels(128, width), 1, "decoder_fc8")
    x = _deconv(x, _channels(512, width), image_size // 16, 1, "valid", "decoder_up0")  # S/16
    x = _conv(x, _channels(256, width), 3, "decoder_conv0")
    x = keras.layers.Concatenate(name="skip3")([x, skip3])
    for index, (filters, skip) in enumerate(((256, skip2), (96, skip1), (64, None), (32, None)), start=1):
        x = _deconv(x, _channels(filters, width), 4, 2, "same", f"decoder_up{index}")
        x = _conv(x, _channels(filters, width), 3, f"decoder_conv{index}")
        if skip is not None:
            x = keras.layers.Concatenate(name=f"skip{3 - index}")([x, skip])
    x = keras.layers.Conv2D(3, 3, padding="same", name="decoder_out")(x)
    return inputs, {"face": keras.layers.Activation("sigmoid", dtype="float32", name="face")(x)}


@keras.saving.register_keras_serializable(package="avse_tf")
class Speech2VidModel(keras.Model):
    """The Speech2Vid generator as a functional ``keras.Model`` (see the module doc).

    Args:
        image_size: face crop side S (multiple of 16; paper 112).
        num_identity: still images K concatenated channel-wise (paper 5; 1 also allowed).
        masked_target: add the ``masked_target`` input (seed re-implementation's variant).
        width: multiplier of every channel count (1.0 = the paper's).
        mfcc_mean, mfcc_std: per-coefficient statistics of the 12 MFCC rows (training set).

    ``get_config`` returns these arguments, so ``keras.models.load_model`` rebuilds the model in
    safe mode.
    """

    def __init__(self, image_size=112, num_identity=5, masked_target=False, width=1.0, mfcc_mean=None,
                 mfcc_std=None, name="speech2vid", **kwargs):
        mfcc_mean = [float(v) for v in (mfcc_mean if mfcc_mean is not None else [0.0] * AUDIO_SHAPE[0])]
        mfcc_std = [max(float(v), 1e-3) for v in (mfcc_std if mfcc_std is not None else [1.0] * AUDIO_SHAPE[0])]
        if len(mfcc_mean) != AUDIO_SHAPE[0] or len(mfcc_std) != AUDIO_SHAPE[0]:
            raise ValueError(f"mfcc_mean and mfcc_std need {AUDIO_SHAPE[0]} values")
        inputs, outputs = _graph(int(image_size), int(num_identity), bool(masked_target), float(width),
                                 mfcc_mean, mfcc_std)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.image_size, self.num_identity = int(image_size), int(num_identity)
        self.masked_target, self.width = bool(masked_target), float(width)
        self.mfcc_mean, self.mfcc_std = mfcc_mean, mfcc_std

    def get_config(self):
        return {"image_size": self.image_size, "num_identity": self.num_identity,
                "masked_target": self.masked_target, "width": self.width, "mfcc_mean": self.mfcc_mean,
                "mfcc_std": self.mfcc_std, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def speech2vid(image_size=112, num_identity=5, masked_target=False, width=1.0, mfcc_mean=None, mfcc_std=None,
               name="speech2vid"):
    """Build the Speech2Vid generator (arguments: :class:`Speech2VidModel`)."""
    return Speech2VidModel(image_size, num_identity, masked_target, width, mfcc_mean, mfcc_std, name=name)


def deblur_network(num_layers=10, filters=64, name="speech2vid_deblur"):
    """The deblurring refinement network (paper §3.4, after VDSR): ``num_layers`` 3x3 convs with
    ``filters`` channels and ReLU (the last one to 3 channels, linear) predicting a residual:
    ``out = image + R(image)``. Fully convolutional: any image size."""
    image = keras.Input((None, None, 3), name="image")
    x = image
    for index in range(1, num_layers):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"deblur_conv{index}")(x)
    residual = keras.layers.Conv2D(3, 3, padding="same", name=f"deblur_conv{num_layers}")(x)
    out = keras.layers.Add(dtype="float32", name="deblurred")([image, residual])
    return keras.Model(image, out, name=name)


def face_encoder(image_size=112, width=1.0, name="face_encoder"):
    """The frozen face encoder of the content loss (paper §3.3 used a pretrained VGG-M face
    network; nothing is downloaded here, so this one is trained on the corpus's aligned faces to
    regress their 68 landmarks, which makes its features sensitive to the mouth's shape).

    Four stride-2 conv blocks (32, 64, 128, 128 channels x ``width``); the outputs of
    :data:`CONTENT_LAYERS` are the content-loss features. Output: landmarks / S, [B, 136].
    """
    face = keras.Input((image_size, image_size, 3), name="face")
    x = face
    for index, filters in enumerate((32, 64, 128, 128), start=1):
        x = keras.layers.Conv2D(_channels(filters, width), 3, strides=2, padding="same", name=f"encoder_conv{index}")(x)
        x = keras.layers.BatchNormalization(name=f"encoder_bn{index}")(x)
        x = keras.layers.ReLU(name=f"encoder_block{index}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="encoder_pool")(x)
    landmarks = keras.layers.Dense(LANDMARK_DIM, dtype="float32", name="landmarks")(x)
    return keras.Model(face, landmarks, name=name)


def content_features(encoder, layers=CONTENT_LAYERS):
    """A frozen model returning the ``layers`` activations of a face encoder (content loss)."""
    outputs = [encoder.get_layer(name).output for name in layers]
    model = keras.Model(encoder.inputs, outputs, name="content_features")
    model.trainable = False
    return model


@keras.saving.register_keras_serializable(package="avse_tf")
class Speech2VidLoss(keras.losses.Loss):
    """L1 on pixels + ``content_weight`` x mean L1 between frozen face-encoder feature maps of the
    generated and the real face (paper §3.3; the seed re-implementation had L1 only: weight 0).

    ``features``: a model from :func:`content_features` (``None``: L1 only). ``encoder_path`` is
    kept in the config for the record; checkpoints are loaded with ``compile=False``.
    """

    def __init__(self, features=None, content_weight=1.0, encoder_path=None, name="speech2vid_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.features = features
        self.content_weight = float(content_weight)
        self.encoder_path = encoder_path

    def call(self, y_true, y_pred):
        import tensorflow as tf

        y_true = tf.cast(y_true, y_pred.dtype)
        loss = tf.reduce_mean(tf.abs(y_true - y_pred), axis=[1, 2, 3])
        if self.features is not None and self.content_weight:
            real, fake = self.features(y_true, training=False), self.features(y_pred, training=False)
            real = real if isinstance(real, (list, tuple)) else [real]
            fake = fake if isinstance(fake, (list, tuple)) else [fake]
            content = tf.add_n([tf.reduce_mean(tf.abs(tf.stop_gradient(r) - f), axis=[1, 2, 3])
                                for r, f in zip(real, fake)])
            loss = loss + self.content_weight * content / len(real)
        return loss

    def get_config(self):
        return {"name": self.name, "content_weight": self.content_weight, "encoder_path": self.encoder_path}


MODEL_SPECS = {
    "speech2vid": {"inputs": ["mfcc", "identity"], "output": "face", "loss": "l1 + content",
                   "description": "audio + identity encoders, skip-connected image decoder (the paper's generator)"},
    "speech2vid_masked": {"inputs": ["mfcc", "identity", "masked_target"], "output": "face", "loss": "l1 + content",
                          "description": "the seed re-implementation's variant: + lower-half-masked target frame"},
    "speech2vid_deblur": {"inputs": ["image"], "output": "deblurred", "loss": "l1",
               "description": "VDSR-like residual deblurring refinement network (paper §3.4)"},
    "face_encoder": {"inputs": ["face"], "output": "landmarks", "loss": "l1",
                     "description": "landmark-regressing face encoder, frozen, for the content loss"},
}

MODEL_BUILDERS = {"speech2vid": speech2vid,
                  "speech2vid_masked": lambda **kwargs: speech2vid(masked_target=True, **kwargs),
                  "speech2vid_deblur": deblur_network, "face_encoder": face_encoder}


def build_model(architecture, /, **kwargs):
    """Build ``architecture`` (a key of :data:`MODEL_BUILDERS`) with builder keyword arguments."""
    if architecture not in MODEL_BUILDERS:
        raise ValueError(f"unknown model {architecture!r}; choose one of {', '.join(MODEL_BUILDERS)}")
    return MODEL_BUILDERS[architecture](**kwargs)


__all__ = ["Speech2VidModel", "Speech2VidLoss", "MODEL_SPECS", "MODEL_BUILDERS", "AUDIO_SHAPE", "CONTENT_LAYERS",
           "build_model", "speech2vid", "deblur_network", "face_encoder", "content_features"]

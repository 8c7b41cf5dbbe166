"""Reusable Keras layers (registered under the ``avse_tf`` package for safe-mode loading).

* :class:`StackedBLSTM` — stacked bidirectional LSTMs with Keras-mask support (cuDNN-eligible);
* :class:`SequenceMask` — a right-padding frame mask built from sequence lengths;
* :class:`ScaledSigmoid` — ``scale * sigmoid(x)``, the bounded ideal-amplitude-mask head;
* :func:`frame_mask` — the boolean ``[B, T]`` mask itself.
"""

from avse_tf.layers.masking import ScaledSigmoid, SequenceMask, frame_mask
from avse_tf.layers.recurrent import StackedBLSTM

__all__ = ["StackedBLSTM", "SequenceMask", "ScaledSigmoid", "frame_mask"]

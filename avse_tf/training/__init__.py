"""Training platform shared by every system: optimisers, distribution strategy, fit loop."""

from avse_tf.training.fit import fit
from avse_tf.training.optimizers import make_optimizer
from avse_tf.training.strategy import get_strategy

__all__ = ["fit", "make_optimizer", "get_strategy"]

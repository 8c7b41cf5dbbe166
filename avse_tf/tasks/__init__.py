"""Deprecated package ``avse_tf.tasks``: each system's steps live in ``avse_tf/systems/<system>/``
(pipeline, train, evaluate, recipe, ...). The old modules re-export them for one release."""

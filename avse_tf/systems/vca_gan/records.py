"""The records of ``preprocess``: one example per segment, made from its ``features/<name>.npz``
(schema :func:`avse_tf.systems.vca_gan.pipeline.vca_gan_schema`, documented in tfrecords/README.md)."""

from __future__ import annotations

import os

import numpy as np

from avse_tf.errors import UserInputError


def load_segment(output_dir, name) -> dict:
    """The arrays of one segment's ``.npz`` (no pickle)."""
    path = os.path.join(output_dir, name, "features", name + ".npz")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise UserInputError(f"features of segment {name} not found: {path}; rerun preprocess") from None
    except (ValueError, OSError, EOFError) as error:
        raise UserInputError(f"features of segment {name} are damaged ({path}: {error}); delete its folder and "
                             f"data/done/ marker and rerun preprocess") from None


def segment_example(name, arrays) -> dict:
    mouths = np.ascontiguousarray(arrays["mouths"], np.uint8)
    valid = int(arrays["valid_frames"])
    return {"clip": name, "source": str(arrays["source"]), "start_frame": int(arrays["start_frame"]),
            "video_frames": len(mouths), "valid_frames": valid, "crop_size": mouths.shape[1],
            "mouths": mouths.tobytes(), "mel": arrays["mel"], "linear": arrays["linear"],
            "sequence_length": len(arrays["mel"]), "num_samples": 0}

"""TFRecords shared by every system: the schema type (each system's ``pipeline`` defines its own), a sharded atomic writer with a
JSON manifest, and a ``tf.data`` reader. The record layouts are documented in ``tfrecords/README.md``.

Write::

    schema = avse_tf.systems.landmark_enhancement.pipeline.enhancement_schema("fixed")
    with RecordWriter("tfrecords/TRAINING_SET", "records", schema) as writer:
        writer.write({"target_wav": ..., "tbm": ..., "speaker": "s1", ...})

Read::

    dataset = make_dataset("tfrecords/TRAINING_SET/records.json", batch_size=8, shuffle=True, seed=0)
"""

from avse_tf.records.reader import (
                                    Manifest,
                                    check_records,
                                    load_manifest,
                                    make_dataset,
                                    parse_specs,
                                    read_examples,
                                    record_errors,
)
from avse_tf.records.schema import Feature, RecordSchema
from avse_tf.records.writer import RecordWriter, serialize_example, write_records

__all__ = ["Feature", "Manifest", "RecordSchema", "RecordWriter", "check_records",
           "load_manifest", "make_dataset", "parse_specs", "read_examples", "record_errors", "serialize_example",
           "write_records"]


_MOVED = {"enhancement_schema": "avse_tf.systems.landmark_enhancement.pipeline",
          "inpainting_schema": "avse_tf.systems.av_inpainting.pipeline",
          "speech2vid_schema": "avse_tf.systems.speech2vid.pipeline"}


def __getattr__(name):
    if name in _MOVED:
        from avse_tf._deprecation import moved

        return moved(f"avse_tf.records.{name}", _MOVED[name], name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""TFRecords shared by every system: schemas per system and mode, a sharded atomic writer with a
JSON manifest, and a ``tf.data`` reader. The record layouts are documented in ``tfrecords/README.md``.

Write::

    schema = enhancement_schema("fixed")
    with RecordWriter("tfrecords/TRAINING_SET", "records", schema) as writer:
        writer.write({"target_wav": ..., "tbm": ..., "speaker": "s1", ...})

Read::

    dataset = make_dataset("tfrecords/TRAINING_SET/records.json", batch_size=8, shuffle=True, seed=0)
"""

from avse_tf.records.reader import (Manifest, check_records, load_manifest, make_dataset, parse_specs,
                                    read_examples, record_errors)
from avse_tf.records.schema import Feature, RecordSchema, enhancement_schema, speech2vid_schema
from avse_tf.records.writer import RecordWriter, serialize_example, write_records

__all__ = ["Feature", "Manifest", "RecordSchema", "RecordWriter", "check_records", "enhancement_schema",
           "load_manifest", "make_dataset", "parse_specs", "read_examples", "record_errors", "serialize_example",
           "speech2vid_schema", "write_records"]

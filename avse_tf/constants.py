"""Constants shared by every system: defined here once, imported everywhere else.

The corpora of the five papers (GRID, LRS2/3, VoxCeleb) are 25 fps video with speech used at 16 kHz;
file names are those of the experiment-folder and record-set contracts
(:mod:`avse_tf.training.fit`, :mod:`avse_tf.records`).
"""

SAMPLE_RATE = 16000  # Hz, every system's audio
FPS = 25.0  # video frames per second (GRID, LRS, VoxCeleb)
RECORDS_MANIFEST = "records.json"  # a record set's manifest (schema, shards, counts)
NORM_FILE = "normalization.npz"  # feature mean / std from the training set
PREPROCESSING_FILE = "preprocessing.json"  # feature settings saved beside a checkpoint
RESOLVED_CONFIG_FILE = "config.json"  # the run's resolved preset + flags, beside the checkpoint
BEST_CHECKPOINT = "best.keras"

"""Speech2Vid ("You said that?", Chung et al., BMVC 2017), end to end.

Steps, as the seed re-implementation's scripts (shared/seeds/002): :func:`extract_features`
(aligned faces, landmarks, HTK MFCC and the waveform of every video, one ``.npz`` per video),
:func:`prepare_data` (one TFRecord example per video frame: 12 x 35 MFCC window, target face,
K identity stills; train/val record sets and a held-out test list), :func:`train` (the generator
with L1 + content loss; trains the frozen face encoder first when none is given),
:func:`train_deblur` (the refinement network), :func:`predict` (wav or any video's sound track +
a face image or video -> 25 fps mp4 with the audio muxed in, optionally pasted back into the
full frame) and :func:`evaluate` (PSNR, SSIM, lip-sync correlations, a table and a frame grid).

Face alignment (paper §3.1): the 68 dlib landmarks of each frame are aligned by a least-squares
similarity (Umeyama / Procrustes) on points 28-48 (nose and eyes, 1-based as in the paper) to a
mean shape, and the aligned face is cropped S x S. Departure: the mean shape is the clip's own mean
landmarks placed in the crop as :func:`avse_tf.video.crops.face_crop` frames a face (25 % margin),
not a dataset-wide mean, so a single still image needs no external template.

MFCC windows (paper §3.1; seed: columns ``int((t - 0.175) * 100)`` + 35): HTK MFCC at 100 Hz
(:func:`avse_tf.audio.features.mfcc_htk`), c0 dropped, window for video frame ``t`` = MFCC columns
``4t - 17 .. 4t + 17``. Departure: columns outside the clip repeat the first / last column
(the paper zero-padded the audio by 1 s; log-energies of digital zeros are extreme values).
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np

from avse_tf.constants import FPS, RECORDS_MANIFEST, SAMPLE_RATE
from avse_tf.errors import UserInputError
from avse_tf.records.schema import Feature, RecordSchema
from avse_tf.video.face_alignment import align_faces

log = logging.getLogger(__name__)

MFCC_RATE = 100  # MFCC frames per second (10 ms step)
WINDOW = 35  # MFCC columns per window (0.35 s)
STEP = int(MFCC_RATE / FPS)  # 4 MFCC columns per video frame
WINDOW_SAMPLES = int(SAMPLE_RATE * WINDOW / MFCC_RATE)  # 5600 samples: the shortest usable audio

META_FILE = "speech2vid.json"
SETS = ("train", "val")
FACE_VIDEO_EXTENSIONS = (".mpg", ".mpeg", ".mp4", ".avi", ".mov", ".mkv", ".webm")  # ext=None: any of them
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def check_audio(waveform, source):
    if waveform.size < WINDOW_SAMPLES:
        raise UserInputError(f"audio {source} lasts {waveform.size / SAMPLE_RATE:.3f} s, shorter than one MFCC "
                             f"window ({WINDOW / MFCC_RATE:.2f} s); give at least {WINDOW / MFCC_RATE:.2f} s of speech")
    return waveform


def compute_mfcc(waveform) -> np.ndarray:
    """HTK MFCC ``[N, 13]`` at 100 Hz (shared :func:`avse_tf.audio.features.mfcc_htk`)."""
    from avse_tf.audio.features import mfcc_htk

    return np.asarray(mfcc_htk(np.asarray(waveform, np.float32), SAMPLE_RATE), np.float32)


def num_video_frames(num_samples: int) -> int:
    from avse_tf.audio.io import duration_frames

    return duration_frames(num_samples, SAMPLE_RATE, FPS)


def mfcc_windows(mfcc, num_frames: int) -> np.ndarray:
    """``[num_frames, 12, 35]`` windows (c0 dropped), one per 25 fps video frame (module doc)."""
    cepstra = np.asarray(mfcc, np.float32)[:, 1:13].T  # [12, N]
    half = WINDOW // 2
    padded = np.pad(cepstra, ((0, 0), (half, half + STEP * num_frames)), mode="edge")
    starts = STEP * np.arange(num_frames)  # padded column of 4t - 17
    index = starts[:, None] + np.arange(WINDOW)[None, :]
    return np.ascontiguousarray(np.transpose(padded[:, index], (1, 0, 2)))


# ----------------------------------------------------------------------------------------------
# Feature extraction

def _resample_frames(frames, fps):
    """Frames at 25 fps (nearest frame in time) from a video at another rate."""
    if abs(fps - FPS) < 1e-3:
        return frames
    count = int(round(len(frames) * FPS / fps))
    index = np.minimum((np.arange(count) * fps / FPS).round().astype(int), len(frames) - 1)
    return frames[index]


def video_features(video_path, audio_path=None, image_size: int = 112, extractor=None) -> dict:
    """Aligned faces, crop landmarks, MFCC and waveform of one video (see module doc)."""
    from avse_tf.audio.io import load_audio
    from avse_tf.validation import match_durations
    from avse_tf.video.io import read_video
    from avse_tf.video.landmarks import LandmarkExtractor, mouth_opening

    frames, fps = read_video(video_path)
    frames = _resample_frames(frames, fps)
    track = (extractor or LandmarkExtractor()).extract(frames, source=os.fspath(video_path))
    faces, points, matrices = align_faces(frames, track.points, image_size)
    audio_source = os.fspath(audio_path or video_path)
    waveform = check_audio(load_audio(audio_source, SAMPLE_RATE), audio_source)
    match_durations(waveform, frames, SAMPLE_RATE, FPS, "error", audio_source, os.fspath(video_path),
                    "or re-encode the video with its own sound track")
    return {"faces": faces, "landmarks": points, "matrices": matrices, "mouth_opening": mouth_opening(points),
            "mfcc": compute_mfcc(waveform), "audio": waveform.astype(np.float32),
            "image_size": np.int64(image_size)}


def list_videos(data_dir, speaker_ids=None, video_dir="video", ext="mpg"):
    """``[(speaker, utterance, video_path, wav_or_None)]``: GRID layout (``s<k>/<video_dir>``) or
    any folder of videos (searched recursively; the parent folder names the speaker). ``ext``
    None: every video extension of :data:`FACE_VIDEO_EXTENSIONS`."""
    from avse_tf.data import grid

    if not os.path.isdir(data_dir):
        raise UserInputError(f"data folder not found: {data_dir}; pass -d with the corpus folder")
    extensions = FACE_VIDEO_EXTENSIONS if ext is None else ("." + ext.lstrip(".").lower(),)
    jobs = []
    speakers = [grid.speaker_name(s) for s in speaker_ids] if speaker_ids else grid.list_speakers(data_dir)
    for speaker in speakers:
        folder = os.path.join(data_dir, speaker, video_dir)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(extensions) and not name.startswith("."):  # .tmp-*: a killed write
                utterance = os.path.splitext(name)[0]
                wav = os.path.join(data_dir, speaker, "audio", utterance + ".wav")
                jobs.append((speaker, utterance, os.path.join(folder, name), wav if os.path.isfile(wav) else None))
    if not jobs and not speaker_ids:
        for root, _, names in sorted(os.walk(data_dir)):
            for name in sorted(names):
                if name.lower().endswith(extensions) and not name.startswith("."):
                    speaker = os.path.relpath(root, data_dir).replace(os.sep, "_")
                    jobs.append(("root" if speaker == "." else speaker, os.path.splitext(name)[0],
                                 os.path.join(root, name), None))
    if not jobs:
        raise UserInputError(f"no {'/'.join(extensions)} videos under {data_dir}; check -d, --ext and --speaker_ids")
    return jobs


def extract_features(data_dir, features_dir="features", image_size=112, speaker_ids=None, video_dir="video",
                     ext="mpg", shape_predictor=None, skip_bad=False) -> list:
    """Write ``<features_dir>/<speaker>/<utterance>.npz`` for every video (atomic; existing kept).

    Arrays: ``faces`` [T, S, S, 3] uint8, ``landmarks`` [T, 68, 2] (crop pixels), ``matrices``
    [T, 2, 3] (frame -> crop), ``mouth_opening`` [T], ``mfcc`` [N, 13], ``audio`` [samples]
    (16 kHz; the GRID wav when there is one, else the video's sound track), ``image_size``.
    """
    from avse_tf.utils import atomic_path, progress
    from avse_tf.video.landmarks import LandmarkExtractor

    if int(image_size) % 16:
        raise UserInputError(f"--image_size must be a multiple of 16 (paper: 112), got {image_size}")
    jobs = list_videos(data_dir, speaker_ids, video_dir, ext)
    extractor = LandmarkExtractor(shape_predictor)
    written = []
    for speaker, utterance, video, wav in progress(jobs, "extract_features"):
        path = os.path.join(features_dir, speaker, utterance + ".npz")
        if os.path.exists(path):
            continue
        try:
            arrays = video_features(video, wav, int(image_size), extractor)
        except UserInputError as error:
            if not skip_bad:
                raise
            log.warning("skipped: %s", error)
            continue
        with atomic_path(path) as temporary:
            np.savez(temporary, **arrays)
        written.append(path)
    return written


def load_features(path) -> dict:
    """One ``extract_features`` file as a dict of arrays (no pickle)."""
    if not os.path.isfile(path):
        raise UserInputError(f"feature file not found: {path}; run extract_features first")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (ValueError, OSError, EOFError) as error:
        raise UserInputError(f"feature file {path} is damaged ({error}); delete it and run extract_features "
                             "again") from None


def list_features(features_dir) -> list:
    if not os.path.isdir(features_dir):
        raise UserInputError(f"features folder not found: {features_dir}; run extract_features first")
    found = sorted(os.path.join(root, name) for root, _, names in os.walk(features_dir)
                   for name in names if name.endswith(".npz"))
    if not found:
        raise UserInputError(f"no feature files (*.npz) in {features_dir}; run extract_features first")
    return found


# ----------------------------------------------------------------------------------------------
# Records

def identity_frames(num_frames: int, count: int, rng=None, exclude=None, min_distance: int = 5) -> np.ndarray:
    """``count`` identity frame indices: random ones more than ``min_distance`` frames from
    ``exclude`` (the seed: "a random frame far from the ground truth"), or, without ``rng``, evenly
    spaced over the clip (prediction and evaluation)."""
    if rng is None:
        return np.linspace(0, num_frames - 1, count).round().astype(int)
    candidates = np.arange(num_frames)
    if exclude is not None:
        far = candidates[np.abs(candidates - exclude) > min_distance]
        candidates = far if len(far) >= count else candidates
    return np.sort(rng.choice(candidates, size=count, replace=len(candidates) < count))


def _split(paths, val_fraction, test_fraction, seed):
    order = list(np.random.default_rng(seed).permutation(len(paths)))
    shuffled = [paths[i] for i in order]
    n_test = int(round(len(paths) * test_fraction)) if test_fraction > 0 else 0
    n_val = int(round(len(paths) * val_fraction)) if val_fraction > 0 else 0
    if len(paths) >= 3:
        n_test = max(n_test, 1 if test_fraction > 0 else 0)
        n_val = max(n_val, 1 if val_fraction > 0 else 0)
    if len(paths) - n_test - n_val < 1:
        raise UserInputError(f"{len(paths)} feature files are too few for a training set with these fractions; "
                             "extract more videos or lower --val_fraction / --test_fraction")
    return {"test": sorted(shuffled[:n_test]), "val": sorted(shuffled[n_test:n_test + n_val]),
            "train": sorted(shuffled[n_test + n_val:])}


def prepare_data(features_dir, processed_dir, num_identity=5, val_fraction=0.1, test_fraction=0.1, seed=0,
                 examples_per_shard=256) -> dict:
    """Records ``<processed_dir>/{train,val}/`` (one example per frame) and ``speech2vid.json``
    (image size, K, MFCC statistics of the training windows, the train/val/test feature files).

    Utterances, not frames, are split (the seed split frames 90/10), so validation and test clips
    are unseen. A set whose manifest exists is kept (resume); the split is kept too.
    """
    from avse_tf.records import RecordWriter
    from avse_tf.systems.speech2vid.preparation import frame_examples
    from avse_tf.utils import atomic_write_text, progress

    if int(num_identity) < 1:
        raise UserInputError(f"number of identity images must be at least 1, got {num_identity}")
    meta_path = os.path.join(processed_dir, META_FILE)
    if os.path.isfile(meta_path):
        meta = read_meta(processed_dir)
    else:
        paths = list_features(features_dir)
        splits = _split([os.path.relpath(p, features_dir) for p in paths], val_fraction, test_fraction, seed)
        from avse_tf.data.normalization import RunningStats
        from avse_tf.systems.speech2vid.preparation import make_meta, mfcc_statistics_block

        stats = RunningStats()
        for relative in splits["train"]:
            stats.update(mfcc_statistics_block(load_features(os.path.join(features_dir, relative))))
        meta = make_meta(int(load_features(paths[0])["image_size"]), num_identity, stats.result(), seed, splits,
                         os.path.abspath(features_dir))
    schema = speech2vid_schema()
    counts = {}
    for name in SETS:
        out_dir = os.path.join(processed_dir, name)
        if os.path.isfile(os.path.join(out_dir, RECORDS_MANIFEST)):
            counts[name] = None
            continue
        if not meta["splits"][name]:
            continue
        total = 0
        with RecordWriter(out_dir, "records", schema, examples_per_shard=examples_per_shard) as writer:
            for relative in progress(meta["splits"][name], f"prepare_data {name}"):
                data = load_features(os.path.join(meta["features_dir"], relative))
                clip = os.path.splitext(relative)[0].replace(os.sep, "/")
                for _, example in frame_examples(data, clip, meta["image_size"], meta["num_identity"], meta["seed"]):
                    writer.write(example)
                    total += 1
        counts[name] = total
    atomic_write_text(meta_path, json.dumps(meta, indent=1) + "\n")
    return counts


def read_meta(processed_dir) -> dict:
    path = os.path.join(processed_dir, META_FILE)
    if not os.path.isfile(path):
        raise UserInputError(f"no {META_FILE} in {processed_dir}; run prepare_data -p {processed_dir} first")
    with open(path, encoding="utf-8") as handle:
        meta = json.load(handle)
    # avse preprocess speech2vid names the features folder relative to this one (movable, shared storage)
    meta["features_dir"] = os.path.join(processed_dir, meta["features_dir"])
    return meta


def resolve_processed(audio=None, identity=None, ground_truth=None, processed=None) -> str:
    """The processed-data folder from the seed's ``-a/-i/-gt`` pickle names or ``-p``.

    The seed's ``audio_features.pkl``, ``identity_features.pkl`` and ``gt_features.pkl`` are read
    as the records in their folder: all three live in one record set here. A real pickle file is
    never opened (pickle runs code).
    """
    folders = set()
    for flag, value in (("-a", audio), ("-i", identity), ("-gt", ground_truth), ("-p", processed)):
        if not value:
            continue
        folder = value
        if not os.path.isdir(value):
            folder = os.path.dirname(os.path.abspath(value))
            if value.endswith(".pkl") and os.path.isfile(value) and not os.path.isfile(os.path.join(folder, META_FILE)):
                raise UserInputError(f"{flag} {value} is a pickle file; pickles are not read (they can run code). "
                                     "Run prepare_data -f FEATURES -p FOLDER and pass that folder's names")
        folders.add(os.path.abspath(folder))
    if not folders:
        raise UserInputError("no training data: pass -p PROCESSED_DIR (or the seed's -a/-i/-gt names inside it)")
    if len(folders) > 1:
        raise UserInputError(f"-a/-i/-gt/-p point to different folders ({', '.join(sorted(folders))}); "
                             "the features of one prepare_data run live in one folder")
    folder = folders.pop()
    read_meta(folder)
    return folder


def decode_batch(batch, image_size, num_identity):
    """Record batch -> float tensors: ``mfcc`` [B, 12, 35], ``identity`` [B, S, S, 3K] (K stills
    channel-wise, paper §3.2), ``target`` [B, S, S, 3], all images in [0, 1]."""
    import tensorflow as tf

    size, count = int(image_size), int(num_identity)
    target = tf.reshape(tf.io.decode_raw(batch["target"], tf.uint8), [-1, size, size, 3])
    identity = tf.reshape(tf.io.decode_raw(batch["identity"], tf.uint8), [-1, count, size, size, 3])
    identity = tf.reshape(tf.transpose(identity, [0, 2, 3, 1, 4]), [-1, size, size, 3 * count])
    return {"mfcc": tf.reshape(batch["mfcc"], [-1, 12, WINDOW]),
            "identity": tf.cast(identity, tf.float32) / 255.0, "target": tf.cast(target, tf.float32) / 255.0,
            "landmarks": batch["target_landmarks"]}


def mask_lower_half(images):
    """The seed's masked ground truth: rows from S/2 down set to zero (numpy or tensor, [..., S, S, C])."""
    size = images.shape[-3]
    keep = np.ones((size, 1, 1), np.float32)
    keep[size // 2:] = 0.0
    return images * keep


def generator_dataset(records, meta, batch_size, masked_target=False, shuffle=False, seed=None, repeat=False,
                      workers=None):
    """``(inputs, {"face": target})`` batches for the generator."""
    import tensorflow as tf

    from avse_tf.records import make_dataset

    dataset = make_dataset(records, batch_size=batch_size, shuffle=shuffle, shuffle_buffer=2048, seed=seed,
                           repeat=repeat, features=["mfcc", "target", "identity", "target_landmarks"])

    def to_model(batch):
        decoded = decode_batch(batch, meta["image_size"], meta["num_identity"])
        inputs = {"mfcc": decoded["mfcc"], "identity": decoded["identity"]}
        if masked_target:
            inputs["masked_target"] = mask_lower_half(decoded["target"])
        return inputs, {"face": decoded["target"]}

    return dataset.map(to_model, num_parallel_calls=workers or tf.data.AUTOTUNE)


# ----------------------------------------------------------------------------------------------
# Record schema

def speech2vid_schema(mfcc_rows=12, mfcc_columns=35):
    """Records of Speech2Vid ("You said that?", Chung et al., BMVC 2017): one example per video frame.

    Context only (no feature lists): ``speaker``, ``utterance`` (strings), ``frame`` (int64, index
    of the target frame at 25 fps), ``mfcc`` [mfcc_rows * mfcc_columns] float32 (the 12 x 35 MFCC
    window around the frame, c0 dropped, row-major), ``target`` (bytes: the aligned target face,
    raw uint8 RGB ``[S, S, 3]``), ``identity`` (bytes: K aligned still faces of the same video,
    raw uint8 ``[K, S, S, 3]``), ``target_landmarks`` [136] float32 (the target's 68 points in the
    crop, divided by S) and ``mouth_opening`` (float32, inner-lip opening in crop pixels).
    ``sequence_length`` is 1 and ``num_samples`` 0 (no waveform is stored). The image size S and
    count K are not part of the schema: ``prepare_data`` writes them in ``speech2vid.json`` beside
    the sets.
    """
    context = {"speaker": Feature("bytes"), "utterance": Feature("bytes"), "frame": Feature("int64"),
               "mfcc": Feature("float32", int(mfcc_rows) * int(mfcc_columns)),
               "target": Feature("bytes"), "identity": Feature("bytes"),
               "target_landmarks": Feature("float32", 136), "mouth_opening": Feature("float32"),
               "sequence_length": Feature("int64"), "num_samples": Feature("int64")}
    return RecordSchema("speech2vid", "fixed", context, {})

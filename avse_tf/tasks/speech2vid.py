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

from avse_tf.errors import NoFaceError, UserInputError

log = logging.getLogger(__name__)

FPS = 25.0
SAMPLE_RATE = 16000
MFCC_RATE = 100  # MFCC frames per second (10 ms step)
WINDOW = 35  # MFCC columns per window (0.35 s)
STEP = int(MFCC_RATE / FPS)  # 4 MFCC columns per video frame
WINDOW_SAMPLES = int(SAMPLE_RATE * WINDOW / MFCC_RATE)  # 5600 samples: the shortest usable audio
ALIGN_POINTS = slice(27, 48)  # paper's landmarks 28-48 (1-based): nose bridge, nostrils, eyes
CROP_MARGIN = 0.25
META_FILE = "speech2vid.json"
SETS = ("train", "val")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


# ----------------------------------------------------------------------------------------------
# Alignment

def similarity_transform(source, target) -> np.ndarray:
    """2 x 3 least-squares similarity (rotation, uniform scale, translation) mapping ``source``
    points onto ``target`` points (Umeyama 1991), as a ``cv2.warpAffine`` matrix."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mu_s, mu_t = source.mean(0), target.mean(0)
    s, t = source - mu_s, target - mu_t
    covariance = t.T @ s / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / max(s.var(0).sum(), 1e-12)
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_t - scale * rotation @ mu_s
    return matrix.astype(np.float32)


def crop_template(mean_shape, size: int, margin: float = CROP_MARGIN) -> np.ndarray:
    """The mean shape ``[68, 2]`` placed in an ``size`` crop as ``face_crop`` frames a face."""
    points = np.asarray(mean_shape, np.float64).reshape(68, 2)
    low, high = points.min(0), points.max(0)
    half = max(4.0, (high - low).max() / 2 * (1 + margin))
    return ((points - (low + high) / 2) * size / (2 * half) + size / 2).astype(np.float32)


def align_faces(frames, landmarks, size: int, template=None):
    """Aligned ``size`` x ``size`` crops of ``frames`` ``[T, H, W, 3]`` with landmarks ``[T, 68, 2]``.

    Returns ``(faces [T, S, S, 3] uint8, points [T, 68, 2] in the crop, matrices [T, 2, 3])``;
    ``template`` defaults to :func:`crop_template` of the mean landmarks.
    """
    import cv2

    landmarks = np.asarray(landmarks, np.float32).reshape(len(frames), 68, 2)
    template = crop_template(landmarks.mean(0), size) if template is None else template
    faces, points, matrices = [], [], []
    for frame, shape in zip(frames, landmarks):
        matrix = similarity_transform(shape[ALIGN_POINTS], template[ALIGN_POINTS])
        faces.append(cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE))
        points.append(shape @ matrix[:, :2].T + matrix[:, 2])
        matrices.append(matrix)
    return np.stack(faces).astype(np.uint8), np.stack(points).astype(np.float32), np.stack(matrices)


# ----------------------------------------------------------------------------------------------
# Audio

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
    from avse_tf.video.io import read_video
    from avse_tf.video.landmarks import LandmarkExtractor, mouth_opening

    frames, fps = read_video(video_path)
    frames = _resample_frames(frames, fps)
    track = (extractor or LandmarkExtractor()).extract(frames, source=os.fspath(video_path))
    faces, points, matrices = align_faces(frames, track.points, image_size)
    waveform = check_audio(load_audio(audio_path or video_path, SAMPLE_RATE), audio_path or video_path)
    return {"faces": faces, "landmarks": points, "matrices": matrices, "mouth_opening": mouth_opening(points),
            "mfcc": compute_mfcc(waveform), "audio": waveform.astype(np.float32),
            "image_size": np.int64(image_size)}


def _list_videos(data_dir, speaker_ids=None, video_dir="video", ext="mpg"):
    """``[(speaker, utterance, video_path, wav_or_None)]``: GRID layout (``s<k>/<video_dir>``) or
    any folder of videos (searched recursively; the parent folder names the speaker)."""
    from avse_tf.data import grid

    if not os.path.isdir(data_dir):
        raise UserInputError(f"data folder not found: {data_dir}; pass -d with the corpus folder")
    extension = "." + ext.lstrip(".").lower()
    jobs = []
    speakers = [grid.speaker_name(s) for s in speaker_ids] if speaker_ids else grid.list_speakers(data_dir)
    for speaker in speakers:
        folder = os.path.join(data_dir, speaker, video_dir)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(extension):
                utterance = name[: -len(extension)]
                wav = os.path.join(data_dir, speaker, "audio", utterance + ".wav")
                jobs.append((speaker, utterance, os.path.join(folder, name), wav if os.path.isfile(wav) else None))
    if not jobs and not speaker_ids:
        for root, _, names in sorted(os.walk(data_dir)):
            for name in sorted(names):
                if name.lower().endswith(extension):
                    speaker = os.path.relpath(root, data_dir).replace(os.sep, "_")
                    jobs.append(("root" if speaker == "." else speaker, name[: -len(extension)],
                                 os.path.join(root, name), None))
    if not jobs:
        raise UserInputError(f"no *{extension} videos under {data_dir}; check -d, --ext and --speaker_ids")
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
    jobs = _list_videos(data_dir, speaker_ids, video_dir, ext)
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
    from avse_tf.records import RecordWriter, speech2vid_schema
    from avse_tf.utils import atomic_write_text, progress

    if int(num_identity) < 1:
        raise UserInputError(f"number of identity images must be at least 1, got {num_identity}")
    meta_path = os.path.join(processed_dir, META_FILE)
    if os.path.isfile(meta_path):
        meta = read_meta(processed_dir)
    else:
        paths = list_features(features_dir)
        splits = _split([os.path.relpath(p, features_dir) for p in paths], val_fraction, test_fraction, seed)
        first = load_features(paths[0])
        stats_sum, stats_sq, count = np.zeros(12), np.zeros(12), 0
        for relative in splits["train"]:
            cepstra = load_features(os.path.join(features_dir, relative))["mfcc"][:, 1:13]
            stats_sum += cepstra.sum(0)
            stats_sq += (cepstra.astype(np.float64) ** 2).sum(0)
            count += len(cepstra)
        mean = stats_sum / count
        meta = {"image_size": int(first["image_size"]), "num_identity": int(num_identity),
                "mfcc_mean": mean.tolist(),
                "mfcc_std": np.sqrt(np.maximum(stats_sq / count - mean ** 2, 1e-6)).tolist(),
                "features_dir": os.path.abspath(features_dir), "seed": int(seed), "splits": splits}
    schema = speech2vid_schema()
    counts = {}
    for name in SETS:
        out_dir = os.path.join(processed_dir, name)
        if os.path.isfile(os.path.join(out_dir, "records.json")):
            counts[name] = None
            continue
        if not meta["splits"][name]:
            continue
        rng = np.random.default_rng([int(meta["seed"]), SETS.index(name)])
        total = 0
        with RecordWriter(out_dir, "records", schema, examples_per_shard=examples_per_shard) as writer:
            for relative in progress(meta["splits"][name], f"prepare_data {name}"):
                data = load_features(os.path.join(meta["features_dir"], relative))
                faces = data["faces"]
                if faces.shape[1] != meta["image_size"]:
                    raise UserInputError(f"{relative} has {faces.shape[1]}-pixel faces, the others "
                                         f"{meta['image_size']}; extract all features with one --image_size")
                count = min(len(faces), num_video_frames(data["audio"].size))
                windows = mfcc_windows(data["mfcc"], count)
                speaker, utterance = os.path.split(os.path.splitext(relative)[0])
                for frame in range(count):
                    chosen = identity_frames(len(faces), meta["num_identity"], rng, exclude=frame)
                    writer.write({"speaker": speaker or "root", "utterance": utterance, "frame": frame,
                                  "mfcc": windows[frame].reshape(-1), "target": faces[frame].tobytes(),
                                  "identity": faces[chosen].tobytes(),
                                  "target_landmarks": (data["landmarks"][frame] / meta["image_size"]).reshape(-1),
                                  "mouth_opening": float(data["mouth_opening"][frame]),
                                  "sequence_length": 1, "num_samples": 0})
                    total += 1
        counts[name] = total
    atomic_write_text(meta_path, json.dumps(meta, indent=1) + "\n")
    return counts


def read_meta(processed_dir) -> dict:
    path = os.path.join(processed_dir, META_FILE)
    if not os.path.isfile(path):
        raise UserInputError(f"no {META_FILE} in {processed_dir}; run prepare_data -p {processed_dir} first")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


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
# Training

def _set_paths(processed_dir):
    paths = {name: os.path.join(processed_dir, name, "records.json") for name in SETS}
    for name, path in paths.items():
        if not os.path.isfile(path):
            raise UserInputError(f"no {name} records at {path}; run prepare_data (with a non-zero "
                                 f"--val_fraction for val) first")
    return paths


def train_face_encoder(processed_dir, exp_dir, batch_size=32, epochs=10, width=0.5, learning_rate=1e-3,
                       patience=5, steps_per_epoch=None, seed=None, verbose="auto") -> str:
    """Train the content-loss face encoder (landmark regression, L1) on the records' real faces;
    returns its ``best.keras`` path."""
    import keras
    import tensorflow as tf

    from avse_tf.models.speech2vid import face_encoder
    from avse_tf.records import make_dataset
    from avse_tf.training import fit

    meta = read_meta(processed_dir)
    paths = _set_paths(processed_dir)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))

    def dataset(path, shuffle):
        data = make_dataset(path, batch_size=batch_size, shuffle=shuffle, seed=seed, shuffle_buffer=2048,
                            repeat=shuffle and steps_per_epoch is not None,
                            features=["target", "identity", "mfcc", "target_landmarks"])
        return data.map(lambda b: (decode_batch(b, meta["image_size"], meta["num_identity"])["target"],
                                   b["target_landmarks"]), num_parallel_calls=tf.data.AUTOTUNE)

    model = face_encoder(meta["image_size"], width)
    model.compile(keras.optimizers.Adam(learning_rate), loss="mae")
    fit(model, dataset(paths["train"], True), dataset(paths["val"], False), epochs, exp_dir, patience=patience,
        steps_per_epoch=steps_per_epoch, verbose=verbose)
    return os.path.join(exp_dir, "best.keras")


def train(processed_dir, exp_dir, batch_size=64, epochs=20, steps_per_epoch=1000, patience=10, width=1.0,
          masked_target=False, content_weight=1.0, face_encoder_path=None, learning_rate=1e-3, encoder_epochs=10,
          encoder_width=0.5, seed=None, strategy=None, workers=None, verbose="auto") -> dict:
    """Train the generator; returns the fit summary. Seed defaults: Adam, batch 64, 20 epochs of
    1000 steps, early stopping patience 10; ``best.keras`` is the seed's ``best_model.h5``.

    With ``content_weight`` > 0 the content loss needs a frozen face encoder: ``face_encoder_path``,
    or one trained first into ``<exp_dir>/face_encoder/`` (resumable like everything else).
    """
    import keras

    from avse_tf.models.speech2vid import Speech2VidLoss, content_features, speech2vid
    from avse_tf.training import fit, get_strategy

    meta = read_meta(processed_dir)
    paths = _set_paths(processed_dir)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    features = None
    if content_weight:
        if not face_encoder_path:
            face_encoder_path = train_face_encoder(processed_dir, os.path.join(exp_dir, "face_encoder"),
                                                   batch_size=min(batch_size, 32), epochs=encoder_epochs,
                                                   width=encoder_width, seed=seed, verbose=verbose,
                                                   steps_per_epoch=steps_per_epoch)
        encoder = load_model(face_encoder_path, "face encoder")
        if tuple(encoder.input_shape[1:3]) != (meta["image_size"],) * 2:
            raise UserInputError(f"face encoder {face_encoder_path} takes {encoder.input_shape[1:3]} faces, the "
                                 f"records hold {meta['image_size']}; train one on these records (omit --face_encoder)")
    strategy = strategy or get_strategy("auto")
    repeat = steps_per_epoch is not None
    train_data = generator_dataset(paths["train"], meta, batch_size, masked_target, shuffle=True, seed=seed,
                                   repeat=repeat, workers=workers)
    val_data = generator_dataset(paths["val"], meta, batch_size, masked_target, workers=workers)
    with strategy.scope():
        if content_weight:
            features = content_features(encoder)
        model = speech2vid(meta["image_size"], meta["num_identity"], masked_target, width,
                           meta["mfcc_mean"], meta["mfcc_std"])
        encoder_path = os.path.abspath(face_encoder_path) if face_encoder_path else None
        loss = Speech2VidLoss(features, content_weight, encoder_path)
        model.compile(keras.optimizers.Adam(learning_rate), loss={"face": loss})
    summary = fit(model, train_data, val_data, epochs, exp_dir, patience=patience, steps_per_epoch=steps_per_epoch,
                  verbose=verbose)
    return summary


def blur(images, sigma):
    """Gaussian blur of ``[B, H, W, 3]`` float images with standard deviation ``sigma`` (pixels)."""
    import tensorflow as tf

    radius = 4
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(x / tf.maximum(tf.cast(sigma, tf.float32), 1e-3)))
    kernel = kernel / tf.reduce_sum(kernel)
    horizontal = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, 3, 1])
    vertical = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, 3, 1])
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
    out = tf.nn.depthwise_conv2d(padded, horizontal, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(out, vertical, [1, 1, 1, 1], "VALID")


def train_deblur(processed_dir, exp_dir, batch_size=32, epochs=10, steps_per_epoch=None, num_layers=10, filters=64,
                 sigma_range=(0.5, 2.0), learning_rate=1e-3, patience=5, seed=None, verbose="auto") -> dict:
    """Train the refinement network (paper §3.4) to undo Gaussian blur (sigma uniform in
    ``sigma_range``, one per batch) of the records' real faces, with an L1 loss."""
    import keras
    import tensorflow as tf

    from avse_tf.models.speech2vid import deblur_network
    from avse_tf.records import make_dataset
    from avse_tf.training import fit

    meta = read_meta(processed_dir)
    paths = _set_paths(processed_dir)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    low, high = sigma_range

    def dataset(path, shuffle):
        data = make_dataset(path, batch_size=batch_size, shuffle=shuffle, seed=seed, shuffle_buffer=2048,
                            repeat=shuffle and steps_per_epoch is not None,
                            features=["target", "identity", "mfcc", "target_landmarks"])

        def pairs(batch):
            sharp = decode_batch(batch, meta["image_size"], meta["num_identity"])["target"]
            sigma = tf.random.uniform([], low, high, seed=seed) if shuffle else (low + high) / 2
            return blur(sharp, sigma), sharp

        return data.map(pairs, num_parallel_calls=tf.data.AUTOTUNE)

    model = deblur_network(num_layers, filters)
    model.compile(keras.optimizers.Adam(learning_rate), loss="mae")
    return fit(model, dataset(paths["train"], True), dataset(paths["val"], False), epochs, exp_dir,
               patience=patience, steps_per_epoch=steps_per_epoch, verbose=verbose)


def load_model(path, what="model"):
    """A ``.keras`` file (safe mode, not compiled) or a folder's ``best.keras``; the seed's
    ``saved_models/model.h5`` name finds ``saved_models/best.keras`` beside it."""
    from avse_tf.models.saving import load_model as load

    if path.endswith(".h5") and not os.path.isfile(path):
        candidate = os.path.join(os.path.dirname(path) or ".", "best.keras")
        path = candidate if os.path.isfile(candidate) else path
    return load(path, what=what, flag="-m", compile=False, family_module="avse_tf.models.speech2vid")


# ----------------------------------------------------------------------------------------------
# Generation

def model_options(model):
    """``(image_size, num_identity, masked_target)`` of a generator checkpoint."""
    config = model.get_config()
    if "num_identity" not in config:
        raise UserInputError(f"model {model.name!r} is not a Speech2Vid generator; pass the train command's best.keras")
    return int(config["image_size"]), int(config["num_identity"]), bool(config["masked_target"])


def generate(model, windows, identity_faces, batch_size=32, deblur=None) -> np.ndarray:
    """Faces ``[T, S, S, 3]`` float in [0, 1] for MFCC windows ``[T, 12, 35]`` and K identity faces
    ``[K, S, S, 3]`` uint8 (the same stills for every frame, as the paper at test time)."""
    size, count, masked = model_options(model)
    stills = np.asarray(identity_faces)
    if len(stills) != count:
        stills = stills[identity_frames(len(stills), count)]
    stacked = np.concatenate(list(stills.astype(np.float32) / 255.0), axis=-1)
    outputs = []
    for start in range(0, len(windows), batch_size):
        chunk = np.asarray(windows[start:start + batch_size], np.float32)
        inputs = {"mfcc": chunk, "identity": np.repeat(stacked[None], len(chunk), 0)}
        if masked:
            # No ground truth at test time: the first still's upper half gives the pose.
            inputs["masked_target"] = np.repeat(mask_lower_half(stills[:1].astype(np.float32) / 255.0), len(chunk), 0)
        faces = np.asarray(model(inputs, training=False)["face"])
        if deblur is not None:
            faces = np.clip(np.asarray(deblur(faces, training=False)), 0.0, 1.0)
        outputs.append(faces)
    return np.concatenate(outputs, 0)


def read_face_source(path, num_identity, image_size, shape_predictor=None):
    """Frames, landmarks and aligned stills from a face image or a video (evenly spaced frames).

    Returns ``(full_frames [K, H, W, 3], landmarks [K, 68, 2], faces [K, S, S, 3], matrices, template)``.
    """
    import cv2

    from avse_tf.video.landmarks import LandmarkExtractor

    extractor = LandmarkExtractor(shape_predictor)
    if not os.path.isfile(path):
        raise UserInputError(f"face file not found: {path}; pass -f with an image or a video of a face")
    if path.lower().endswith(IMAGE_EXTENSIONS):
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise UserInputError(f"cannot read image {path}: corrupt or not an image; give a JPEG/PNG of a face")
        frames = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)[None]
        box = extractor.detect(cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY))
        if box is None:
            raise NoFaceError(f"no face found in image {path}; give a frontal face at least ~80 pixels wide")
        points = extractor.shape(cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY), box)[None]
    else:
        from avse_tf.video.io import read_video

        video, _ = read_video(path)
        track = extractor.extract(video, source=path)
        chosen = identity_frames(len(video), num_identity)
        frames, points = video[chosen], track.points[chosen]
    template = crop_template(points.mean(0), image_size)
    faces, _, matrices = align_faces(frames, points, image_size, template)
    return frames, points, faces, matrices, template


def paste_back(frame, face, matrix, template):
    """Put an aligned generated face back into the full frame (inverse similarity warp, then
    Poisson blending inside the face's convex hull, as the paper's re-dubbing)."""
    import cv2

    height, width = frame.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    warped = cv2.warpAffine(face, inverse, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    hull_points = template @ inverse[:, :2].T + inverse[:, 2]
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(hull_points.astype(np.int32)), 255)
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
    x, y, w, h = cv2.boundingRect(mask)
    if w < 8 or h < 8 or x <= 0 or y <= 0 or x + w >= width or y + h >= height:
        alpha = (cv2.GaussianBlur(mask, (0, 0), 3)[..., None] / 255.0)
        return (warped * alpha + frame * (1 - alpha)).astype(np.uint8)
    centre = (x + w // 2, y + h // 2)
    return cv2.seamlessClone(warped, frame, mask, centre, cv2.NORMAL_CLONE)


def predict(model_path, audio_path, face_path, output_path, deblur_path=None, full_frame=False,
            shape_predictor=None, batch_size=32) -> dict:
    """Write a 25 fps mp4 of the face in ``face_path`` speaking ``audio_path`` (audio muxed in).

    ``audio_path``: a wav (any rate) or any video's sound track. ``face_path``: an image, or a
    video (K evenly spaced frames give the identity stills). One frame per 40 ms of audio
    (``ceil(duration * 25)``). ``full_frame``: paste the generated face back into the frame the
    first still comes from (paper §4, re-dubbing); else the aligned S x S face is written.
    """
    from avse_tf.audio.io import load_audio
    from avse_tf.video.io import write_video

    model = load_model(model_path, "model")
    deblur = load_model(deblur_path, "deblurring model") if deblur_path else None
    size, count, _ = model_options(model)
    waveform = check_audio(load_audio(audio_path, SAMPLE_RATE), audio_path)
    frames, _, faces, matrices, template = read_face_source(face_path, count, size, shape_predictor)
    num_frames = num_video_frames(waveform.size)
    generated = generate(model, mfcc_windows(compute_mfcc(waveform), num_frames), faces, batch_size, deblur)
    video = (generated * 255.0 + 0.5).astype(np.uint8)
    if full_frame:
        video = np.stack([paste_back(frames[0], face, matrices[0], template) for face in video])
        if video.shape[1] % 2 or video.shape[2] % 2:  # H.264 4:2:0 needs even sizes
            video = video[:, : video.shape[1] // 2 * 2, : video.shape[2] // 2 * 2]
    write_video(output_path, video, FPS, audio=waveform, sample_rate=SAMPLE_RATE)
    return {"output": output_path, "frames": int(num_frames), "seconds": waveform.size / SAMPLE_RATE,
            "size": list(video.shape[1:3])}


# ----------------------------------------------------------------------------------------------
# Evaluation

def measured_mouth_opening(faces, reference_points, predictor_size=192, shape_predictor=None) -> np.ndarray:
    """Inner-lip opening (in units of the crop size) measured by dlib's shape predictor on aligned
    faces ``[T, S, S, 3]`` (uint8 or [0, 1]), upscaled to ``predictor_size``. The face box is the
    bounding box of the mean of ``reference_points`` ([T, 68, 2] or [68, 2], crop pixels): one
    box for every frame of a clip, real or generated (the faces are aligned), so all are measured
    alike and a still image gets a constant opening."""
    import cv2
    import dlib

    from avse_tf.video.landmarks import LandmarkExtractor, mouth_opening

    extractor = LandmarkExtractor(shape_predictor)
    faces = np.asarray(faces)
    if faces.dtype != np.uint8:
        faces = (np.clip(faces, 0, 1) * 255 + 0.5).astype(np.uint8)
    size = faces.shape[1]
    scale = predictor_size / size
    points = np.asarray(reference_points, np.float32).reshape(-1, 68, 2).mean(0)
    low, high = points.min(0) * scale, points.max(0) * scale
    box = dlib.rectangle(int(low[0]), int(low[1]), int(high[0]), int(high[1]))
    openings = []
    for face in faces:
        gray = cv2.cvtColor(cv2.resize(face, (predictor_size, predictor_size), interpolation=cv2.INTER_CUBIC),
                            cv2.COLOR_RGB2GRAY)
        openings.append(mouth_opening(extractor.shape(gray, box))[0] / predictor_size)
    return np.asarray(openings, np.float32)


def _frame_grid(rows, every=6, max_columns=12):
    """One image: for each (name, real, generated) clip, a row of real and a row of generated frames."""
    import cv2

    lines = []
    for name, real, generated in rows:
        index = np.arange(0, len(real), every)[:max_columns]
        for label, faces in (("real", real), ("generated", generated)):
            faces = np.asarray(faces)
            if faces.dtype != np.uint8:
                faces = (np.clip(faces, 0, 1) * 255 + 0.5).astype(np.uint8)
            strip = np.concatenate([cv2.copyMakeBorder(faces[i], 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=(255, 255, 255))
                                    for i in index], axis=1)
            banner = np.full((14, strip.shape[1], 3), 255, np.uint8)
            cv2.putText(banner, f"{name} {label}", (2, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1)
            lines += [banner, strip]
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=255) for line in lines]
    return cv2.cvtColor(np.concatenate(lines, 0), cv2.COLOR_RGB2BGR)


def evaluate(model_path, processed_dir, output_dir, deblur_path=None, split="test", max_clips=None, grid_clips=3,
             shape_predictor=None, batch_size=32) -> dict:
    """Score the generator on the held-out clips of ``split`` (default the unseen test utterances).

    Per clip: K evenly spaced stills of the clip are the identity; the clip's audio drives the
    model; metrics against the real aligned frames: PSNR (of the clip: pooled squared error) and
    SSIM (mean over frames), both on the frames that are not stills, ``lip_corr`` (correlation of the
    generated and the real mouth opening, both measured by dlib on the crops) and ``env_corr``
    (correlation of the generated opening with the speech envelope). Rows: the model (and with
    ``deblur_path`` the refined output), the identity still repeated (baseline), the model driven
    by another clip's audio (control: sync must drop), and the real frames (reference). Writes
    ``metrics.csv``, ``table.txt`` and ``frames.png`` (real vs generated) in ``output_dir``.
    """
    import csv

    from avse_tf.metrics import correlation, format_table, psnr, speech_envelope, ssim
    from avse_tf.plots import save_png
    from avse_tf.utils import atomic_path, atomic_write_text

    meta = read_meta(processed_dir)
    clips = meta["splits"].get(split) or []
    if not clips:
        raise UserInputError(f"{processed_dir} has no {split} clips; prepare_data with a non-zero --test_fraction")
    clips = clips[:max_clips] if max_clips else clips
    model = load_model(model_path, "model")
    deblur = load_model(deblur_path, "deblurring model") if deblur_path else None
    size, count, _ = model_options(model)
    if size != meta["image_size"]:
        raise UserInputError(f"model {model_path} makes {size}-pixel faces, {processed_dir} holds {meta['image_size']}")
    data = [load_features(os.path.join(meta["features_dir"], clip)) for clip in clips]
    methods = ["speech2vid"] + (["speech2vid + deblur"] if deblur is not None else []) + [
        "identity still (baseline)", "mismatched audio (control)", "real frames (reference)"]
    rows, grid = [], []
    for index, (clip, item) in enumerate(zip(clips, data)):
        frames = min(len(item["faces"]), num_video_frames(item["audio"].size))
        real = item["faces"][:frames]
        stills = real[identity_frames(frames, count)]
        windows = mfcc_windows(item["mfcc"], frames)
        other = data[(index + 1) % len(data)] if len(data) > 1 else None
        outputs = {"speech2vid": generate(model, windows, stills, batch_size)}
        if deblur is not None:
            outputs["speech2vid + deblur"] = generate(model, windows, stills, batch_size, deblur)
        outputs["identity still (baseline)"] = np.repeat(stills[:1].astype(np.float32) / 255.0, frames, 0)
        if other is not None:
            other_windows = mfcc_windows(other["mfcc"], num_video_frames(other["audio"].size))
            other_windows = other_windows[np.minimum(np.arange(frames), len(other_windows) - 1)]
            outputs["mismatched audio (control)"] = generate(model, other_windows, stills, batch_size)
        outputs["real frames (reference)"] = real.astype(np.float32) / 255.0
        reference = real.astype(np.float32) / 255.0
        # PSNR / SSIM on the frames that are not identity stills (a still equals its own frame).
        scored = np.setdiff1d(np.arange(frames), identity_frames(frames, count))
        points = item["landmarks"][:frames]
        real_opening = measured_mouth_opening(real, points, shape_predictor=shape_predictor)
        envelope = speech_envelope(item["audio"], frames, SAMPLE_RATE, FPS)
        for method, faces in outputs.items():
            opening = measured_mouth_opening(faces, points, shape_predictor=shape_predictor)
            is_real = method.startswith("real")
            rows.append({"method": method, "clip": clip,
                         "psnr": None if is_real else psnr(reference[scored], faces[scored], per_image=False),
                         "ssim": None if is_real else float(np.mean(ssim(reference[scored], faces[scored]))),
                         "lip_corr": correlation(opening, real_opening), "env_corr": correlation(opening, envelope)})
        if index < grid_clips:
            grid.append((os.path.splitext(clip)[0], real, outputs[methods[1] if deblur is not None else methods[0]]))
    os.makedirs(output_dir, exist_ok=True)
    columns = ["psnr", "ssim", "lip_corr", "env_corr"]
    summary = {}
    for method in methods:
        mine = [row for row in rows if row["method"] == method]
        if mine:
            summary[method] = {column: (None if mine[0][column] is None else float(np.mean([r[column] for r in mine])))
                               for column in columns}
            summary[method]["clips"] = len(mine)
    with atomic_path(os.path.join(output_dir, "metrics.csv")) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["method", "clip", *columns])
            writer.writeheader()
            writer.writerows(rows)
    table = format_table(summary, columns=[*columns, "clips"], label="method")
    atomic_write_text(os.path.join(output_dir, "table.txt"), table + "\n")
    save_png(os.path.join(output_dir, "frames.png"), _frame_grid(grid))
    return {"table": table, "summary": summary, "rows": rows, "grid": os.path.join(output_dir, "frames.png")}


__all__ = ["extract_features", "prepare_data", "train", "train_face_encoder", "train_deblur", "predict", "evaluate",
           "generate", "mfcc_windows", "align_faces", "similarity_transform", "load_model", "resolve_processed"]

"""``avse denoising train_student``: the seed's ``lipsync/train_student.py`` on the shared platform.

Inputs are ``avse denoising preprocess`` folders: the seed's two LRS3 roots (``pretrain`` and
``trainval`` preprocessed) give their ``training`` records together; validation reads the second
root's ``validation`` records (the first's when only one is given). Noise: ``noise_data_root`` (a
folder of noise wavs, VGGSound-style, or one written by ``avse noise-bank``: its training kinds
only), else the shared noise bank is written once into ``<checkpoint_dir>/noise_bank`` (seeded;
the test kinds are held out of training either way).

The teacher: a ``.keras`` file trained by ``avse denoising train_teacher`` (its ``best.keras`` or
folder), or with ``teacher="speech2vid"`` one trained by ``avse speech2vid train`` (behind the
Wav2Lip teacher's interface, :mod:`.speech2vid_teacher`). A PyTorch ``.pth`` is refused in one line: it is a pickle (never loaded here) of another
framework's weights. The fixed face (the original's ``taylor.jpg``): ``face`` (any image, resized
to 96 x 96), else the first frame of the first training clip; written to ``<checkpoint_dir>/face.png``.

Outputs: the shared ``fit`` folder (resumable, ``best.keras`` = the whole :class:`StudentDistillation`
with the lowest validation L1) and ``student.keras``, the student alone from ``best.keras``: what
``lipsync`` and the denoiser load.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from avse_tf.constants import BEST_CHECKPOINT
from avse_tf.errors import UserInputError
from avse_tf.systems.pseudo_visual.faces import FACE_SIZE
from avse_tf.systems.pseudo_visual.student import LOWER_HALF_SHAPE

log = logging.getLogger(__name__)
STUDENT_CHECKPOINT = "student.keras"
FACE_FILE = "face.png"
NOISE_BANK_FOLDER = "noise_bank"


def load_teacher(path, flag=None, teacher="wav2lip"):
    """The teacher's generator (a functional model ``[faces [N, 96, 96, 6], audio] -> face``) from
    ``train_teacher``'s ``.keras`` or folder, or for ``teacher="speech2vid"`` from ``avse speech2vid
    train``'s; a PyTorch checkpoint is refused in one line (:func:`train_teacher.load_checkpoint`)."""
    from avse_tf.systems.pseudo_visual.speech2vid_teacher import TEACHERS, speech2vid_teacher
    from avse_tf.systems.pseudo_visual.train_teacher import load_checkpoint

    if teacher not in TEACHERS:
        raise UserInputError(f"--teacher {teacher}: unknown; choose one of {', '.join(TEACHERS)}")
    flag = flag or f"--{teacher}_checkpoint_path"
    if not path:
        raise UserInputError(f"--teacher {teacher} needs {flag}: the checkpoint its training command wrote")
    if teacher == "speech2vid":
        from avse_tf.systems.speech2vid.model import Speech2VidModel

        model = load_checkpoint(path, "speech2vid checkpoint", flag)
        if not isinstance(model, Speech2VidModel):
            _not_a(path, flag, "Speech2Vid generator (an `avse speech2vid train` checkpoint)")
        return speech2vid_teacher(model)
    generator = getattr(load_checkpoint(path, "teacher checkpoint", flag), "generator", None)
    if generator is None:
        _not_a(path, flag, "teacher (a train_teacher checkpoint)")
    return generator


def load_student(path, flag="--checkpoint_path"):
    """The student alone: ``student.keras``, a ``train_student`` folder, or its ``best.keras``."""
    from avse_tf.systems.pseudo_visual.distill import StudentDistillation
    from avse_tf.systems.pseudo_visual.train_teacher import load_checkpoint

    path = os.fspath(path)
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, STUDENT_CHECKPOINT)):
        path = os.path.join(path, STUDENT_CHECKPOINT)
    model = load_checkpoint(path, "student checkpoint", flag)
    model = model.student if isinstance(model, StudentDistillation) else model
    if model.output_shape[1:] != LOWER_HALF_SHAPE:
        _not_a(path, flag, "student (a train_student checkpoint)")
    return model


def _not_a(path, flag, what):
    from avse_tf.errors import ModelFileError

    raise ModelFileError(f"{flag} {path} is not a {what}; give the checkpoint the matching command wrote")


def read_face(path) -> np.ndarray:
    """An image file -> ``[96, 96, 3]`` float32 RGB in [0, 1]."""
    import cv2

    image = cv2.imread(os.fspath(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UserInputError(f"--face {path}: not a readable image; give a PNG or JPEG face crop")
    image = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), (FACE_SIZE, FACE_SIZE), interpolation=cv2.INTER_AREA)
    return image.astype(np.float32) / 255.0


def first_face(records) -> np.ndarray:
    """The first frame of the first clip of ``records`` (file order), ``[96, 96, 3]`` in [0, 1]."""
    from avse_tf.records import make_dataset
    from avse_tf.systems.pseudo_visual.pipeline import decode_record

    for record in make_dataset(records, batch_size=1, shuffle=False).unbatch().take(1):
        return decode_record(record)["faces"][0].numpy().astype(np.float32) / 255.0  # uint8 RGB -> [0, 1]
    raise UserInputError(f"{records}: no clips; preprocess a corpus with at least one clip per split")


def write_face(path, face) -> None:
    import cv2

    from avse_tf.utils import atomic_path

    with atomic_path(path) as temporary:
        if not cv2.imwrite(temporary, cv2.cvtColor((np.clip(face, 0, 1) * 255 + 0.5).astype(np.uint8),
                                                   cv2.COLOR_RGB2BGR)):
            raise OSError(f"cannot write {path}")


def student_noise(noise_data_root, checkpoint_dir, seed=0):
    """The noise folder the student mixes from (module doc)."""
    if noise_data_root:
        if not os.path.isdir(noise_data_root):
            raise UserInputError(f"--noise_data_root {noise_data_root}: no such folder; give a folder of noise wavs "
                                 "or one written by `avse noise-bank --out`")
        return os.fspath(noise_data_root)
    from avse_tf.data.noise import write_noise_bank
    from avse_tf.data.noise.bank import MANIFEST as NOISE_BANK_MANIFEST

    bank = os.path.join(checkpoint_dir, NOISE_BANK_FOLDER)
    if not os.path.isfile(os.path.join(bank, NOISE_BANK_MANIFEST)):
        log.info("no --noise_data_root: writing the shared noise bank to %s", bank)
        write_noise_bank(bank, seed=int(seed))
    return bank


def preset_schedule(preset, batch_size=None, epochs=None, learning_rate=None):
    """The preset's ``training`` settings and the batch size, epochs and learning rate, given or its."""
    from avse_tf.systems.presets import get_preset

    settings = get_preset(preset)["training"]
    return (settings, int(batch_size or settings["batch_size"]), int(epochs or settings["epochs"]),
            float(learning_rate or settings["learning_rate"]))


def lrs3_records(data_root_pretrain, data_root_train=None):
    """The seed's two preprocessed roots -> (training records of both, validation records of the
    second, or of the first when only one is given)."""
    from avse_tf.systems.pseudo_visual.train_teacher import split_records

    roots = [data_root_pretrain] + ([data_root_train] if data_root_train and data_root_train != data_root_pretrain
                                    else [])
    return [split_records(root, "training") for root in roots], split_records(roots[-1], "validation")


def train_student(data_root_pretrain, checkpoint_dir, teacher_checkpoint, data_root_train=None, noise_data_root=None,
                  preset="lipsync_student_cpu", batch_size=None, epochs=None, steps_per_epoch=None,
                  learning_rate=None, face=None, patience=None, seed=None, strategy=None, verbose="auto",
                  initial_checkpoint=None, teacher="wav2lip") -> dict:
    """Distil the student (module doc); unset arguments take the preset's ``training`` values.
    ``teacher``: ``"wav2lip"`` (``teacher_checkpoint`` from ``train_teacher``) or ``"speech2vid"``.
    ``initial_checkpoint``: a student whose weights start the run (the seed's ``--checkpoint_path``;
    resuming needs nothing: rerun the same command). Returns the fit summary plus ``student``: the
    path of ``student.keras``."""
    import keras

    from avse_tf.records import record_errors
    from avse_tf.systems.presets import from_preset
    from avse_tf.systems.pseudo_visual.distill import StudentDistillation
    from avse_tf.systems.pseudo_visual.pipeline import make_student_dataset
    from avse_tf.systems.pseudo_visual.speech2vid_teacher import teacher_audio_key
    from avse_tf.systems.pseudo_visual.train_teacher import validation_steps_of
    from avse_tf.training import fit, get_strategy
    from avse_tf.utils import atomic_path

    settings, batch_size, epochs, learning_rate = preset_schedule(preset, batch_size, epochs, learning_rate)
    train_records, validation_records = lrs3_records(data_root_pretrain, data_root_train)
    teacher_model = load_teacher(teacher_checkpoint, teacher=teacher)
    teacher_audio = teacher_audio_key(teacher_model)
    os.makedirs(checkpoint_dir, exist_ok=True)
    noise = student_noise(noise_data_root, checkpoint_dir, seed or 0)
    face_path = os.path.join(checkpoint_dir, FACE_FILE)
    if face is not None:
        fixed_face = read_face(face)
    elif os.path.isfile(face_path):  # a resumed run keeps the face its first epochs were trained on
        fixed_face = read_face(face_path)
    else:
        fixed_face = first_face(train_records[0])
    write_face(face_path, fixed_face)
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    strategy = strategy or get_strategy("auto")
    train_data = make_student_dataset(train_records, noise, batch_size, seed=seed, repeat=True,
                                      drop_remainder=strategy.num_replicas_in_sync > 1, teacher_audio=teacher_audio)
    validation_data = make_student_dataset(validation_records, noise, batch_size, shuffle=False, seed=1234,
                                           teacher_audio=teacher_audio)
    steps_per_epoch = int(steps_per_epoch or settings.get("steps_per_epoch") or 1)
    with strategy.scope():
        model = StudentDistillation(from_preset(preset), teacher_model)
        if initial_checkpoint:
            model.student.set_weights(load_student(initial_checkpoint).get_weights())
        model.set_face(fixed_face)
        model.compile(keras.optimizers.Adam(learning_rate))
    with record_errors(train_records[0]), record_errors(validation_records):
        summary = fit(model, train_data, validation_data, epochs, checkpoint_dir, patience=patience or epochs + 1,
                      steps_per_epoch=steps_per_epoch,
                      validation_steps=validation_steps_of(validation_records, batch_size), verbose=verbose)
    student_path = os.path.join(checkpoint_dir, STUDENT_CHECKPOINT)
    if not os.path.isfile(student_path):
        best = load_student(os.path.join(checkpoint_dir, BEST_CHECKPOINT))
        with atomic_path(student_path) as temporary:
            best.save(temporary)
    return {**summary, "student": student_path}


__all__ = ["train_student", "preset_schedule", "lrs3_records", "load_teacher", "load_student", "read_face", "first_face", "student_noise",
           "STUDENT_CHECKPOINT", "FACE_FILE"]

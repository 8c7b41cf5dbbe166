"""``avse denoising evaluate``: the evaluation the original repository never released (Hegde et al.,
WACV 2021 §4 reports PESQ and STOI, and claims intelligibility with pseudo-lips within 3 % of real lips).

Per held-out clip (a split of ``denoising preprocess``'s records, by default the unseen speakers),
per SNR (default 0, 5 and 10 dB, the paper's) and per held-out noise kind of the bank (its test
kinds; a plain folder of noise is one kind, ``noise``): the clean speech mixed with a clip of that
kind, seeded by (seed, clip, SNR, kind). The whole clip is denoised as ``inference`` does
(:func:`.inference.denoise`). Conditions (rows), each given only when its model is:

* ``noisy`` - the mixture itself;
* ``audio_only`` - the audio-only ablation (``train --visual none``: the same network and schedule,
  its visual stream zeros);
* ``pseudo_lips`` - the paper's system: the student's lips from the noisy speech;
* ``teacher_clean_lips`` - the same pseudo-lip denoiser given the teacher's lips from the CLEAN
  speech on the same fixed face (the paper's "real lips": lips that follow the true speech, drawn
  as the student draws them), from the student's training folder;
* ``true_video`` - the real-lips denoiser (``train --visual real``) on the corpus's lower faces;
* ``clean`` - the clean speech: the recogniser's floor (its signal measures are the maxima).

Columns: ``pesq`` (wide band), ``stoi``, ``estoi``, ``si_sdr`` (dB), means over clips and kinds;
``wer`` pooled over words (errors over words) when the corpus gives each clip's words
(``corpus_root``: a transcript, an alignment or a GRID id; PocketSphinx with the GRID grammar
when every sentence is a GRID one, else its free trigram model).
"""

from __future__ import annotations

import os

import numpy as np

from avse_tf.constants import SAMPLE_RATE
from avse_tf.errors import UserInputError

CONDITIONS = ("noisy", "audio_only", "pseudo_lips", "teacher_clean_lips", "true_video", "clean")
SIGNAL_COLUMNS = ("pesq", "stoi", "estoi", "si_sdr")
PAPER_SNRS_DB = (0.0, 5.0, 10.0)


def held_out_noise_kinds(noise_data_root) -> dict:
    """``{kind: [waveforms]}`` of the held-out test kinds of a bank (a plain folder: one kind, ``noise``)."""
    from avse_tf.audio.io import load_audio
    from avse_tf.data.noise import noise_clips
    from avse_tf.data.noise.bank import MANIFEST, load_bank_manifest
    from avse_tf.data.noise.registry import TEST

    root = os.path.abspath(os.fspath(noise_data_root))
    kinds = {}
    if os.path.exists(os.path.join(root, MANIFEST)):
        kind_of = {os.path.join(root, clip["path"]): clip["kind"] for clip in load_bank_manifest(root)["clips"]}
        for path in noise_clips(root, split=TEST):
            kinds.setdefault(kind_of[path], []).append(load_audio(path, SAMPLE_RATE))
    else:
        kinds["noise"] = [load_audio(path, SAMPLE_RATE) for path in noise_clips(root, split=TEST)]
    return kinds


def clip_words(corpus_root, clip_name):
    """The words of record ``<speaker>/<clip id>`` from the corpus, or None when nothing gives them."""
    from avse_tf.data.corpora.transcripts import clip_transcript
    from avse_tf.errors import TranscriptError

    if not corpus_root or "/" not in clip_name:
        return None
    speaker, clip_id = clip_name.split("/", 1)
    try:
        return clip_transcript(os.fspath(corpus_root), speaker, clip_id)[0]
    except TranscriptError:
        return None


def recognition_metric(sentences) -> str:
    """``wer`` (the GRID grammar) when every sentence is a GRID sentence, else ``wer_free``."""
    from avse_tf.data import grid

    try:
        for words in sentences:
            grid.sentence_to_id(words)
    except (ValueError, KeyError, IndexError):
        return "wer_free"
    return "wer"


def condition_signals(models, clip, noisy, distillation=None, batch_size=16, teacher_lips=None) -> dict:
    """``{condition: waveform}`` of one mixture (module doc); ``models``: ``{"pseudo_lips",
    "audio_only", "true_video"}`` -> a loaded :class:`~.denoiser_training.DenoiserTraining` or None.
    ``teacher_lips``: the teacher's lips of the clean clip when already drawn (they do not depend on
    the noise), else drawn here from ``distillation``."""
    from avse_tf.systems.pseudo_visual.evaluate_student import teacher_lower_halves
    from avse_tf.systems.pseudo_visual.faces import FACE_SIZE
    from avse_tf.systems.pseudo_visual.inference import denoise

    clean = clip["waveform"]
    signals = {"noisy": noisy}
    if models.get("audio_only") is not None:
        signals["audio_only"] = denoise(models["audio_only"], noisy, batch_size)
    if models.get("pseudo_lips") is not None:
        signals["pseudo_lips"] = denoise(models["pseudo_lips"], noisy, batch_size)
        if teacher_lips is None and distillation is not None:
            teacher_lips = teacher_lower_halves(distillation, clean, len(clip["faces"]))
        if teacher_lips is not None:
            signals["teacher_clean_lips"] = denoise(models["pseudo_lips"], noisy, batch_size, lips=teacher_lips)
    if models.get("true_video") is not None:
        lips = clip["faces"][:, FACE_SIZE // 2:].astype(np.float32) / 255.0
        signals["true_video"] = denoise(models["true_video"], noisy, batch_size, lips=lips)
    signals["clean"] = clean
    return signals


def signal_row(clean, estimate) -> dict:
    from avse_tf.metrics import estoi, pesq, si_sdr, stoi

    return {"pesq": pesq(clean, estimate, SAMPLE_RATE, "wb"), "stoi": stoi(clean, estimate),
            "estoi": estoi(clean, estimate), "si_sdr": si_sdr(clean, estimate)}


def summarize(rows, group_by) -> dict:
    """``{group: {column: value}}``: means of the signal columns, WER pooled over words."""
    groups = {}
    for row in rows:
        groups.setdefault(tuple(row[key] for key in group_by), []).append(row)
    summary = {}
    for key, members in groups.items():
        entry = {column: float(np.mean([row[column] for row in members])) for column in SIGNAL_COLUMNS
                 if all(column in row for row in members)}
        if all("word_errors" in row for row in members):
            entry["wer"] = sum(row["word_errors"] for row in members) / max(1, sum(row["words"] for row in members))
        entry["clips"] = len(members)
        summary[key] = entry
    return summary


def evaluate_denoiser(preprocessed_root, output_dir, checkpoint_path=None, audio_only_checkpoint=None,
                      true_video_checkpoint=None, student_checkpoint_dir=None, corpus_root=None, split="unseen",
                      snrs_db=PAPER_SNRS_DB, noise_data_root=None, max_clips=None, seed=0, batch_size=16) -> dict:
    """Score the given denoisers (module doc); writes ``metrics.csv`` (a row per clip, SNR, kind and
    condition), ``table.txt`` and ``summary.json`` into ``output_dir``. Returns ``{"table", "by_snr":
    {(condition, snr): columns}, "by_kind": {(condition, kind): columns}, "clips", "metric"}``."""
    import csv
    import json

    from avse_tf.data.noise import mix_at_snr
    from avse_tf.metrics import format_table
    from avse_tf.metrics.recognition import clip_errors
    from avse_tf.systems.pseudo_visual.evaluate_student import teacher_lower_halves
    from avse_tf.systems.pseudo_visual.evaluate_teacher import held_out_clips
    from avse_tf.systems.pseudo_visual.train_denoiser import load_denoising
    from avse_tf.systems.pseudo_visual.train_student import NOISE_BANK_FOLDER
    from avse_tf.systems.pseudo_visual.train_teacher import load_checkpoint, split_records
    from avse_tf.utils import atomic_path, atomic_write_text

    flags = {"pseudo_lips": ("--checkpoint_path", checkpoint_path, "pseudo"),
             "audio_only": ("--audio_only_checkpoint_path", audio_only_checkpoint, "none"),
             "true_video": ("--true_video_checkpoint_path", true_video_checkpoint, "real")}
    models = {}
    for condition, (flag, path, visual) in flags.items():
        models[condition] = load_denoising(path, flag) if path else None
        if models[condition] is not None and models[condition].visual != visual:
            raise UserInputError(f"{flag} {path}: a denoiser trained with --visual {models[condition].visual}; "
                                 f"this condition needs one trained with --visual {visual}")
    if not any(models.values()):
        raise UserInputError("no denoiser to evaluate: give --checkpoint_path, --audio_only_checkpoint_path or "
                             "--true_video_checkpoint_path")
    if student_checkpoint_dir and models["pseudo_lips"] is None:
        raise UserInputError("--student_checkpoint_dir gives the teacher's clean-speech lips to the pseudo-lip "
                             "denoiser: give its --checkpoint_path too")
    distillation = (load_checkpoint(student_checkpoint_dir, "student checkpoint", "--student_checkpoint_dir")
                    if student_checkpoint_dir else None)
    if noise_data_root is None:  # the bank `train` wrote beside the first denoiser given
        first = os.fspath(next(path for path in (checkpoint_path, audio_only_checkpoint, true_video_checkpoint) if path))
        noise_data_root = os.path.join(first if os.path.isdir(first) else os.path.dirname(first), NOISE_BANK_FOLDER)
    kinds = held_out_noise_kinds(noise_data_root)
    clips = held_out_clips(split_records(preprocessed_root, split), max_clips)
    if not clips:
        raise UserInputError(f"{preprocessed_root}: no clips in the {split} split")
    words = {clip["clip"]: clip_words(corpus_root, clip["clip"]) for clip in clips}
    recognise = all(value for value in words.values())
    metric = recognition_metric(words.values()) if recognise else None
    rows = []
    for index, clip in enumerate(clips):
        # the same for every SNR and kind (clip_errors caches the clean clip's decode the same way)
        teacher_lips = (teacher_lower_halves(distillation, clip["waveform"], len(clip["faces"]))
                        if distillation is not None and models["pseudo_lips"] is not None else None)
        for snr_index, snr in enumerate(snrs_db):
            for kind_index, (kind, waveforms) in enumerate(sorted(kinds.items())):
                rng = np.random.default_rng([int(seed), index, snr_index, kind_index])
                noisy, _ = mix_at_snr(clip["waveform"], waveforms[int(rng.integers(len(waveforms)))], float(snr), rng)
                signals = condition_signals(models, clip, noisy, distillation, batch_size, teacher_lips)
                for condition, signal in signals.items():
                    if condition == "clean" and not recognise:
                        continue  # only its WER, the recogniser's floor, says anything
                    row = {"clip": clip["clip"], "snr_db": float(snr), "kind": kind, "condition": condition}
                    if condition != "clean":
                        row.update(signal_row(clip["waveform"], signal))
                    if recognise:
                        row["word_errors"], row["words"] = clip_errors(metric, words[clip["clip"]], signal)
                    rows.append(row)
    by_snr, by_kind = summarize(rows, ("condition", "snr_db")), summarize(rows, ("condition", "kind"))
    columns = SIGNAL_COLUMNS + (("wer",) if recognise else ())
    order = [condition for condition in CONDITIONS if any(row["condition"] == condition for row in rows)]
    snr_table = format_table({f"{condition} @ {snr:g} dB": by_snr[(condition, float(snr))]
                              for snr in snrs_db for condition in order}, columns, label="condition @ SNR")
    kind_table = format_table({f"{condition} / {kind}": by_kind[(condition, kind)]
                               for kind in sorted(kinds) for condition in order}, columns, label="condition / noise")
    recogniser = {"wer": "PocketSphinx, GRID grammar", "wer_free": "PocketSphinx, free trigram model"}.get(metric)
    header = (f"{split} split, {len(clips)} clips x {len(snrs_db)} SNRs x {len(kinds)} held-out noise kinds "
              f"({', '.join(sorted(kinds))}); " + (f"WER: {recogniser}, pooled over words" if recognise
                                                   else "no WER (give --corpus_root for the clips' words)"))
    table = "\n".join([header, snr_table, "", kind_table])
    os.makedirs(output_dir, exist_ok=True)
    fields = ("clip", "snr_db", "kind", "condition", *SIGNAL_COLUMNS) + (("word_errors", "words") if recognise else ())
    with atomic_path(os.path.join(output_dir, "metrics.csv")) as temporary:
        with open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fields)
            writer.writeheader()
            writer.writerows(rows)
    atomic_write_text(os.path.join(output_dir, "table.txt"), table + "\n")
    summary = {"split": split, "clips": len(clips), "kinds": sorted(kinds), "recognition": metric,
               "by_snr": [{"condition": key[0], "snr_db": key[1], **value} for key, value in by_snr.items()],
               "by_kind": [{"condition": key[0], "kind": key[1], **value} for key, value in by_kind.items()]}
    atomic_write_text(os.path.join(output_dir, "summary.json"), json.dumps(summary, indent=1) + "\n")
    return {"table": table, "by_snr": by_snr, "by_kind": by_kind, "clips": len(clips), "metric": metric}


def load_evaluation(output_dir) -> dict | None:
    """What :func:`evaluate_denoiser` returned, read back from the ``table.txt`` and ``summary.json``
    it wrote into ``output_dir``; None when either is missing."""
    import json

    paths = [os.path.join(output_dir, name) for name in ("table.txt", "summary.json")]
    if not all(os.path.isfile(path) for path in paths):
        return None
    with open(paths[0], encoding="utf-8") as handle:
        table = handle.read().rstrip("\n")
    with open(paths[1], encoding="utf-8") as handle:
        summary = json.load(handle)

    def grouped(entries, key):
        return {(entry["condition"], entry[key]): {name: value for name, value in entry.items()
                                                   if name not in ("condition", key)} for entry in entries}

    return {"table": table, "by_snr": grouped(summary["by_snr"], "snr_db"),
            "by_kind": grouped(summary["by_kind"], "kind"), "clips": summary["clips"],
            "metric": summary["recognition"]}


__all__ = ["evaluate_denoiser", "load_evaluation", "held_out_noise_kinds", "condition_signals", "summarize",
           "CONDITIONS", "PAPER_SNRS_DB"]

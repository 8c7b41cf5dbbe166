"""PocketSphinx recognition (avse_tf.metrics.recognition) and ``avse align`` on the synthetic corpus.

Thresholds come from measuring the session corpus (2 speakers x 3 utterances, seed 1: grid-grammar
WER 0.11, free-LM WER 1.00, PER 0.56, -5 dB white noise WER 1.00, alignment boundary error median
22 ms / 90th percentile 85 ms against the generator's espeak word timings), with margin.
"""

import os
import shutil

import numpy as np
import pytest

from avse_tf.audio.io import load_audio
from avse_tf.data import grid
from avse_tf.data.phones import SILENCES
from avse_tf.errors import NonFiniteError, TranscriptError
from avse_tf.metrics.recognition import (
    PocketSphinxRecognizer,
    phone_error_rate,
    recognize_words,
    shared_recognizer,
    word_error_rate,
)

pytest.importorskip("pocketsphinx")


def _clips(root):
    clips = []
    for speaker in grid.list_speakers(root):
        for utterance_id in grid.list_utterances(root, speaker):
            path = os.path.join(root, speaker, "audio", f"{utterance_id}.wav")
            clips.append((speaker, utterance_id, path, list(grid.id_to_sentence(utterance_id))))
    return clips


@pytest.fixture(scope="module")
def corpus(small_corpus):
    root = str(small_corpus[0])
    clips = _clips(root)
    audios = [load_audio(path) for _, _, path, _ in clips]
    return root, clips, audios, [words for *_, words in clips]


def _white_noise_at(audio, snr_db, seed=0):
    """``audio`` plus white noise at ``snr_db`` (powers over the whole clip, pauses included)."""
    noise = np.random.default_rng(seed).standard_normal(audio.size).astype(np.float32)
    noise *= np.sqrt(np.mean(audio ** 2) / np.mean(noise ** 2) / 10 ** (snr_db / 10))
    return audio + noise


def test_grid_grammar_beats_free_model_and_noise_raises_wer(corpus):
    _, _, audios, references = corpus
    grid_wer = word_error_rate(references, audios, language_model="grid")
    free_wer = word_error_rate(references, audios, language_model="free")
    noisy_wer = word_error_rate(references, [_white_noise_at(audio, -5) for audio in audios])
    assert grid_wer <= 0.25, grid_wer  # measured 0.11
    assert free_wer >= grid_wer + 0.3, (free_wer, grid_wer)  # measured 1.00 vs 0.11
    assert noisy_wer >= grid_wer + 0.3, (noisy_wer, grid_wer)  # measured 1.00


def test_phone_error_rate_and_reference_phones(corpus):
    _, _, audios, references = corpus
    recognizer = shared_recognizer()
    assert recognizer.reference_phones(["bin", "a", "white"]) == ["B", "IH", "N", "EY", "W", "AY", "T"]
    phones = recognizer.phones(audios[0])
    from avse_tf.data.phones import PHONES

    assert phones and set(phones) <= set(PHONES)  # 39 CMU phones, no SIL or noise units
    per = phone_error_rate(references, audios)
    assert np.isfinite(per) and per <= 0.75, per  # measured 0.56


def test_results_do_not_depend_on_order_or_rate(corpus):
    _, _, audios, _ = corpus
    recognizer = shared_recognizer()
    first = recognize_words(audios[:2])
    assert recognize_words(audios[1::-1])[::-1] == first
    # The noise estimate of a loud noisy clip must not leak into the next clip (start_stream).
    clean_alignment = recognizer.align(audios[0], corpus[3][0])
    recognizer.words(_white_noise_at(audios[1], -10))
    assert recognizer.align(audios[0], corpus[3][0]) == clean_alignment
    from avse_tf.audio.io import resample

    at_22k = resample(audios[0], 16000, 22050)
    assert shared_recognizer().words(at_22k, sample_rate=22050) == first[0]


def test_align_recovers_the_generator_word_timings(corpus):
    _, clips, audios, _ = corpus
    recognizer = PocketSphinxRecognizer()
    errors = []
    for (speaker, utterance_id, path, words), audio in zip(clips, audios):
        aligned = recognizer.align(audio, words)
        assert [word for word, _, _ in aligned] == words
        truth = [entry for entry in grid.read_align(path.replace("/audio/", "/align/")[:-4] + ".align")
                 if entry[0] not in SILENCES]
        for (_, start, end), (_, true_start, true_end) in zip(aligned, truth):
            errors += [abs(start - true_start), abs(end - true_end)]
    errors = np.array(errors) * 1000
    assert np.median(errors) <= 40, np.median(errors)  # measured 22 ms
    assert np.percentile(errors, 90) <= 150, np.percentile(errors, 90)  # measured 85 ms


def test_bad_inputs_raise_typed_errors(corpus):
    _, _, audios, _ = corpus
    recognizer = shared_recognizer()
    broken = audios[0].copy()
    broken[100] = np.nan
    with pytest.raises(NonFiniteError):
        recognizer.words(broken)
    with pytest.raises(TranscriptError, match="qzxv"):
        recognizer.align(audios[0], ["bin", "qzxv"])
    with pytest.raises(TranscriptError, match="cannot be aligned"):
        recognizer.align(audios[0][:1600], ["bin", "blue", "at", "f", "two", "now"] * 3)


@pytest.mark.slow
def test_avse_align_recreates_resumes_and_refuses_bad_transcripts(corpus, tmp_path, capsys):
    from avse_tf.cli.main import main

    root, clips, _, _ = corpus
    copy = str(tmp_path / "corpus")
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("video"))
    for speaker, utterance_id, _, _ in clips:
        os.remove(os.path.join(copy, speaker, "align", f"{utterance_id}.align"))
    assert main(["align", copy]) == 0
    assert f"aligned {len(clips)} clips" in capsys.readouterr().out
    for speaker, utterance_id, _, words in clips:
        original = grid.read_align(os.path.join(root, speaker, "align", f"{utterance_id}.align"))
        made = grid.read_align(os.path.join(copy, speaker, "align", f"{utterance_id}.align"))
        assert [w for w, _, _ in made if w not in SILENCES] == words
        assert made[-1][2] == pytest.approx(original[-1][2])  # the clip's length
    # Resume: existing files are kept, only the missing one is made.
    speaker, utterance_id, _, _ = clips[0]
    kept_path = os.path.join(copy, clips[1][0], "align", f"{clips[1][1]}.align")
    kept_time = os.stat(kept_path).st_mtime_ns
    os.remove(os.path.join(copy, speaker, "align", f"{utterance_id}.align"))
    assert main(["align", copy, "--speakers", speaker]) == 0
    assert "aligned 1 clips" in capsys.readouterr().out
    assert os.stat(kept_path).st_mtime_ns == kept_time
    # An unknown word in a transcript beside the audio: one line, exit 2, nothing written.
    with open(os.path.join(copy, speaker, "audio", f"{utterance_id}.txt"), "w") as handle:
        handle.write("Bin blue qzxv.\n")
    assert main(["align", copy, "--overwrite"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "qzxv" in error and error.startswith("avse: error:")
    # A clip whose id is not a GRID id and that has no transcript.
    os.remove(os.path.join(copy, speaker, "audio", f"{utterance_id}.txt"))
    shutil.copy(os.path.join(copy, speaker, "audio", f"{utterance_id}.wav"), os.path.join(copy, speaker, "audio", "take1.wav"))
    assert main(["align", copy, "--speakers", speaker]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "take1" in error
    # The transcript folder: s<k>/<id>.txt serves the clip.
    os.makedirs(tmp_path / "text" / speaker)
    (tmp_path / "text" / speaker / "take1.txt").write_text(" ".join(clips[0][3]))
    assert main(["align", copy, "--speakers", speaker, "--transcripts", str(tmp_path / "text")]) == 0
    assert os.path.exists(os.path.join(copy, speaker, "align", "take1.align"))

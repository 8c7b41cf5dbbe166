"""Distinct synthetic voices (synth-grid ``--voices distinct``) and the speaker-ID check."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from avse_tf.data.synth.corpus import SyntheticSpeaker, generate_grid_corpus
from avse_tf.data.synth.voices import (
    DISTINCT_VOICES,
    corpus_speaker_id,
    speaker_id_accuracy,
    speaker_voice,
)


def _digest(root):
    digest = {}
    for folder, _, names in os.walk(root):
        for name in names:
            if not name.startswith("."):  # not the work-folder lock
                path = os.path.join(folder, name)
                digest[os.path.relpath(path, root)] = hashlib.md5(Path(path).read_bytes()).hexdigest()
    return digest


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_no_two_speakers_share_a_voice(seed):
    voices = [speaker_voice(seed, index) for index in range(1, DISTINCT_VOICES + 1)]
    assert len({(voice, warp) for voice, warp, _, _ in voices}) == DISTINCT_VOICES == 140
    # the first cycle: every speaker of a sex has its own variant
    first = [voice for voice, _, _, _ in voices[:28]]
    assert len(set(first)) == 28
    for voice, warp, pitch, rate in voices:
        assert 0.85 < warp < 1.15 and 35 <= pitch < 70 and 115 <= rate < 145
    # speakers sharing a variant differ in warp, pitch and rate
    by_variant = {}
    for voice, warp, pitch, rate in voices:
        by_variant.setdefault(voice, []).append((warp, pitch, rate))
    for values in by_variant.values():
        for column in zip(*values):
            assert len(set(column)) == len(column)
    with pytest.raises(ValueError, match="140 distinct voices"):
        speaker_voice(seed, DISTINCT_VOICES + 1)


@pytest.mark.parametrize("espeak_voice", ["cmn", "es"])
def test_other_languages_reuse_the_scheme_and_every_variant_speaks(espeak_voice):
    """Speaker k differs from the others the same way in every language: only the espeak voice the
    variant is applied to changes, and every variant exists for it."""
    from avse_tf.data.synth.speech import EspeakSynthesizer
    from avse_tf.data.synth.voices import DISTINCT_FEMALE_VARIANTS, DISTINCT_MALE_VARIANTS

    for index in (1, 2, 29, 140):
        english, other = speaker_voice(3, index), speaker_voice(3, index, espeak_voice)
        assert other == (espeak_voice + english[0][len("en-us"):],) + english[1:]
    synthesizer = EspeakSynthesizer()
    for variant in DISTINCT_MALE_VARIANTS + DISTINCT_FEMALE_VARIANTS:
        assert synthesizer.synthesize("a", voice=f"{espeak_voice}+{variant}").waveform.size > 0


def test_distinct_voices_keep_the_faces():
    for index in (1, 2, 7):
        legacy, distinct = SyntheticSpeaker.create(3, index, "legacy"), SyntheticSpeaker.create(3, index)
        assert legacy.identity == distinct.identity and legacy.female == distinct.female
        assert legacy.warp == 1.0
    with pytest.raises(ValueError, match="voices"):
        SyntheticSpeaker.create(3, 1, "shared")


def test_too_many_speakers_for_distinct_voices(tmp_path):
    with pytest.raises(ValueError, match="140 distinct voices"):
        generate_grid_corpus(str(tmp_path), speakers=2, utterances=1, first_speaker=DISTINCT_VOICES, voices="distinct")


def test_command_line_option(tmp_path, capsys):
    from avse_tf.cli.main import main

    with pytest.raises(SystemExit):
        main(["synth-grid", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--voices {distinct,legacy}" in help_text and "up to 140 speakers" in help_text
    assert "--video {camera,legacy}" in help_text and "distinct (default)" in help_text
    assert main(["synth-grid", "--out", str(tmp_path), "--speakers", "3", "--first_speaker", "139",
                 "--voices", "distinct"]) == 2
    assert "makes 140 distinct voices" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "s139")


@pytest.mark.media
def test_distinct_corpus_same_seed_same_bytes(tmp_path):
    first, second, legacy = tmp_path / "a", tmp_path / "b", tmp_path / "legacy"
    description = generate_grid_corpus(str(first), speakers=2, utterances=2, seed=7, voices="distinct")
    generate_grid_corpus(str(second), speakers=2, utterances=2, seed=7, voices="distinct")
    digest = _digest(first)
    assert len(digest) == 2 * 2 * 3 + 1 and digest == _digest(second)
    saved = json.loads((first / "synth_grid.json").read_text())
    assert saved == description and saved["voices"] == "distinct"
    parameters = [(s["voice"], s["warp"], s["pitch"], s["rate_wpm"]) for s in saved["speakers"]]
    assert parameters == [speaker_voice(7, index) for index in (1, 2)]
    # the legacy corpus (the old default) is unchanged: no voice or video fields added, other audio
    legacy_description = generate_grid_corpus(str(legacy), speakers=2, utterances=2, seed=7, voices="legacy",
                                              video="legacy")
    assert not {"voices", "video"} & set(legacy_description)
    assert not {"warp", "av_offset_ms"} & set(legacy_description["speakers"][0])
    legacy_digest = _digest(legacy)
    audio = [path for path in digest if path.endswith(".wav")]
    assert all(digest[path] != legacy_digest.get(path) for path in audio)


def test_speaker_id_check_on_known_clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 26)) * 3
    labels = np.repeat(["a", "b", "c", "d"], 5)
    separated = centres[np.repeat(np.arange(4), 5)] + rng.normal(size=(20, 26))
    assert speaker_id_accuracy(separated, labels) == 1.0
    mixed = rng.normal(size=(20, 26))  # no speaker information: about chance (25 %)
    assert speaker_id_accuracy(mixed, labels) < 0.6
    with pytest.raises(ValueError, match="2 utterances"):
        speaker_id_accuracy(separated[:5], ["a", "a", "a", "a", "b"])


@pytest.mark.slow
def test_speaker_id_separates_ten_distinct_voices(tmp_path):
    """Acceptance (issue 15): 10 synth-grid speakers x 6 utterances, leave-one-out nearest MFCC
    centroid >= 90 % (measured 93.3 % at seed 1; the legacy voices give 61.7 %). The rendered face
    is the same as with legacy voices; dlib still finds it."""
    from avse_tf.video.io import read_video
    from avse_tf.video.landmarks import LandmarkExtractor

    description = generate_grid_corpus(str(tmp_path), speakers=10, utterances=6, seed=1, voices="distinct")
    assert len({(s["voice"], s["warp"]) for s in description["speakers"]}) == 10
    result = corpus_speaker_id(tmp_path)
    assert (result["speakers"], result["utterances"]) == (10, 60)
    assert result["accuracy"] >= 0.9, result
    speaker = description["speakers"][1]
    frames, _ = read_video(os.path.join(tmp_path, speaker["name"], "video", f"{speaker['utterances'][0]}.mpg"),
                           grayscale=True)
    extractor = LandmarkExtractor()
    assert np.mean([extractor.detect(frame) is not None for frame in frames[::5]]) >= 0.95

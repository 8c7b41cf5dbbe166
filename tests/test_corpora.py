"""A user's corpus: layouts recognised, imported into the library's layout, checked clip by clip.

The synthetic corpus (``small_corpus``: 2 speakers x 3 clips) is rewritten as GRID distributes it
(50 kHz wavs and .mpg directly under s<k>/, alignments in align/s<k>/) and as an LRS3-like tree
(mp4 + ``Text:`` files), then read, imported and checked.
"""

import json
import os
import shutil

import numpy as np
import pytest

from avse_tf.audio.io import load_audio, write_audio
from avse_tf.data import grid
from avse_tf.data.corpora import MANIFEST, detect_layout, import_corpus, read_corpus
from avse_tf.errors import UserInputError
from avse_tf.video.io import probe, read_video, write_video
from corpus_trees import GRID_RATE, as_grid_distributed, seed_clips

def _lrs3_text(words):
    return (f"Text:  {words.upper()}\nConf:  4\n\nWORD START END ASDSCORE\n"
            + "".join(f"{word.upper()} 0.{i}0 0.{i}5 1.0\n" for i, word in enumerate(words.split())))


# (video id, split, clip) of each synthetic clip, in seed_clips order: s1's go to "vidA" in two
# splits with a clip 00001 in each; s2's to "0bVid" (sorted first, so it becomes s1).
LRS3_PLACES = [("vidA", "trainval", "00001"), ("vidA", "trainval", "00002"), ("vidA", "pretrain", "00001"),
               ("0bVid", "test", "00001"), ("0bVid", "test", "00002"), ("0bVid", "test", "00003")]


def _as_lrs3(seed_root, out):
    """``<out>/<split>/<video id>/<clip>.mp4`` (H.264 + AAC) with ``<clip>.txt``; returns
    ``{(split, video id, clip): (seed speaker, seed clip)}``."""
    places = {}
    for (speaker, clip), (video_id, split, name) in zip(seed_clips(seed_root), LRS3_PLACES):
        folder = os.path.join(out, split, video_id)
        frames, fps = read_video(os.path.join(seed_root, speaker, "video", clip + ".mpg"))
        audio = load_audio(os.path.join(seed_root, speaker, "audio", clip + ".wav"))
        write_video(os.path.join(folder, name + ".mp4"), frames, fps, audio=audio)
        with open(os.path.join(folder, name + ".txt"), "w") as handle:
            handle.write(_lrs3_text(" ".join(grid.id_to_sentence(clip))))
        places[(split, video_id, name)] = (speaker, clip)
    return places


@pytest.fixture(scope="module")
def trees(small_corpus, tmp_path_factory):
    seed_root = str(small_corpus[0])
    base = tmp_path_factory.mktemp("corpora")
    grid_root, lrs3_root = str(base / "grid"), str(base / "lrs3")
    as_grid_distributed(seed_root, grid_root)
    places = _as_lrs3(seed_root, lrs3_root)
    return {"seed": seed_root, "grid": grid_root, "lrs3": lrs3_root, "lrs3_places": places, "base": base}


def test_each_layout_is_detected_and_read(trees, tmp_path):
    for layout in ("seed", "grid", "lrs3"):
        assert detect_layout(trees[layout]) == layout

    seed_ids = seed_clips(trees["seed"])
    corpus = read_corpus(trees["grid"])
    assert corpus.speakers() == ["s1", "s2"]
    assert [(clip.speaker, clip.clip_id) for clip in corpus.clips] == seed_ids
    for clip in corpus.clips:
        assert clip.video == os.path.join(trees["grid"], clip.speaker, clip.clip_id + ".mpg")
        assert clip.audio == os.path.join(trees["grid"], clip.speaker, clip.clip_id + ".wav")
        assert clip.align == os.path.join(trees["grid"], "align", clip.speaker, clip.clip_id + ".align")
    assert [clip.clip_id for clip in read_corpus(trees["grid"], speakers=[2]).clips] == [c for s, c in seed_ids
                                                                                          if s == "s2"]

    lrs3 = read_corpus(trees["lrs3"])
    # Video ids sorted -> s1..sN; clip ids unique per speaker although "00001" is in two splits.
    assert {clip.speaker: clip.source_speaker for clip in lrs3.clips} == {"s1": "0bVid", "s2": "vidA"}
    assert [clip.clip_id for clip in lrs3.clips_of("s2")] == ["pretrain-00001", "trainval-00001", "trainval-00002"]
    first = lrs3.clips_of("s2")[1]
    assert first.audio == first.video == os.path.join(trees["lrs3"], "trainval", "vidA", "00001.mp4")
    speaker, clip = trees["lrs3_places"][("trainval", "vidA", "00001")]
    assert first.transcript == " ".join(grid.id_to_sentence(clip)).upper()
    assert [c.clip_id for c in read_corpus(trees["lrs3"], speakers=["vidA"]).clips] == [
        c.clip_id for c in lrs3.clips_of("s2")]

    (tmp_path / "empty" / "nothing").mkdir(parents=True)
    with pytest.raises(UserInputError, match="not a corpus layout"):
        detect_layout(tmp_path / "empty")
    with pytest.raises(UserInputError, match="unknown speaker s9"):
        read_corpus(trees["grid"], speakers=[9])
    # GRID's video archives unpacked over the seed layout: both trees at once, the user must choose.
    both = tmp_path / "both"
    shutil.copytree(trees["seed"], both)
    shutil.copyfile(os.path.join(trees["grid"], *seed_ids[0]) + ".mpg", both / seed_ids[0][0] / "x.mpg")
    with pytest.raises(UserInputError, match="several layouts"):
        detect_layout(both)
    assert read_corpus(both, layout="seed").layout == "seed"


def _files_and_times(root):
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if name != ".avse.lock":  # the work-folder lock, taken by every run
                found[os.path.relpath(path, root)] = os.lstat(path).st_mtime_ns
    return found


@pytest.mark.media
def test_import_grid_round_trip_manifest_and_resume(trees, tmp_path):
    dest = str(tmp_path / "imported")
    audio_root = str(tmp_path / "grid_audio")  # the audio archives unpacked elsewhere
    grid_root = str(tmp_path / "grid")
    as_grid_distributed(trees["seed"], grid_root, audio_root=audio_root)
    manifest = import_corpus(grid_root, dest, audio_dir=audio_root, show_progress=False)

    seed = trees["seed"]
    for speaker, clip in seed_clips(seed):
        imported = os.path.join(dest, speaker, "audio", clip + ".wav")
        assert probe_rate(imported) == 16000
        original = load_audio(os.path.join(seed, speaker, "audio", clip + ".wav"), None)
        audio = load_audio(imported, None)
        assert audio.size == original.size
        # 16 -> 50 -> 16 kHz through 16-bit files: measured 39.5-52.8 dB on these six clips (soxr HQ
        # attenuates 7.2-8 kHz at each step); a wrong rate or a shift would be near 0 dB.
        residual = audio - original
        assert 10 * np.log10(np.sum(original ** 2) / np.sum(residual ** 2)) > 35
        video = os.path.join(dest, speaker, "video", clip + ".mpg")
        assert os.path.islink(video) and os.path.realpath(video) == os.path.join(grid_root, speaker, clip + ".mpg")
        with open(os.path.join(dest, speaker, "align", clip + ".align"), "rb") as imported_align, \
                open(os.path.join(seed, speaker, "align", clip + ".align"), "rb") as original_align:
            assert imported_align.read() == original_align.read()
        entry = manifest["speakers"][speaker]["clips"][clip]
        assert entry == {"source_id": clip, "audio": os.path.join(audio_root, speaker, clip + ".wav"),
                         "video": os.path.join(grid_root, speaker, clip + ".mpg"),
                         "align": os.path.join(grid_root, "align", speaker, clip + ".align"), "transcript": None}
    assert manifest["layout"] == "grid" and manifest["source"] == grid_root and manifest["skipped"] == []
    assert manifest["video_extensions"] == ["mpg"]
    with open(os.path.join(dest, MANIFEST)) as handle:
        assert json.load(handle) == manifest
    assert detect_layout(dest) == "seed"
    assert not [name for name in _files_and_times(dest) if ".tmp-" in name]

    # Resume: finished files are kept as they are; a missing one is written again, alone.
    before = _files_and_times(dest)
    speaker, clip = seed_clips(seed)[1]
    lost = os.path.join(speaker, "audio", clip + ".wav")
    os.remove(os.path.join(dest, lost))
    assert import_corpus(grid_root, dest, audio_dir=audio_root, show_progress=False) == manifest
    after = _files_and_times(dest)
    assert set(after) == set(before)
    assert [name for name in after if after[name] != before[name]] == sorted([lost, MANIFEST])
    with pytest.raises(UserInputError, match="holds the import of"):
        import_corpus(trees["lrs3"], dest, show_progress=False)


def probe_rate(path):
    import soundfile

    return soundfile.info(path).samplerate


@pytest.mark.media
def test_import_lrs3_maps_video_ids_and_keeps_transcripts(trees, tmp_path):
    dest = str(tmp_path / "imported")
    manifest = import_corpus(trees["lrs3"], dest, speakers=["vidA"], show_progress=False)
    # Numbering covers every video id of the tree, so vidA is s2 whatever is selected.
    assert list(manifest["speakers"]) == ["s2"] and manifest["speakers"]["s2"]["source"] == "vidA"
    clips = manifest["speakers"]["s2"]["clips"]
    assert sorted(clips) == ["pretrain-00001", "trainval-00001", "trainval-00002"]
    for clip_id, entry in clips.items():
        split, name = clip_id.split("-")
        original = os.path.join(trees["lrs3"], split, "vidA", name)
        assert entry["video"] == entry["audio"] == original + ".mp4"
        assert entry["transcript"] == original + ".txt" and entry["source_id"] == f"{split}/vidA/{name}"
        seed_speaker, seed_clip = trees["lrs3_places"][(split, "vidA", name)]
        with open(os.path.join(dest, "s2", "text", clip_id + ".txt")) as handle:
            assert handle.read() == " ".join(grid.id_to_sentence(seed_clip)).upper() + "\n"
        audio = load_audio(os.path.join(dest, "s2", "audio", clip_id + ".wav"), None)
        assert abs(audio.size - 48000) <= 16  # 3.0 s at 16 kHz, AAC trimmed to its declared length
        assert os.path.realpath(os.path.join(dest, "s2", "video", clip_id + ".mp4")) == original + ".mp4"
    assert manifest["video_extensions"] == ["mp4"]
    assert not os.path.exists(os.path.join(dest, "s1"))


def _check(capsys, *arguments):
    from avse_tf.cli.main import main

    code = main(["check-corpus", *map(str, arguments)])
    out = capsys.readouterr().out.strip().splitlines()
    return code, out[:-1], out[-1]


@pytest.mark.media
def test_check_corpus_passes_a_clean_corpus_and_flags_each_bad_clip(trees, tmp_path, capsys):
    code, lines, summary = _check(capsys, trees["grid"], "--require_align")
    assert (code, lines) == (0, []), lines
    assert summary.startswith("check-corpus: 6 clips of 2 speakers (grid layout") and "no problems" in summary

    bad = tmp_path / "grid"
    shutil.copytree(trees["grid"], bad)
    (s1_a, s1_b, s1_c), (s2_a, s2_b, _) = [grid.list_utterances(trees["seed"], s) for s in ("s1", "s2")]
    frames, _ = read_video(bad / "s1" / f"{s1_a}.mpg")
    audio = load_audio(bad / "s1" / f"{s1_a}.wav")
    thirty = bad / "s1" / f"{s1_a}.mpg"  # the same 3 s at 30 fps: 90 frames
    write_video(thirty, frames[np.arange(90) * 25 // 30], 30, audio=audio)
    assert probe(thirty)["fps"] == 30
    short = bad / "s1" / f"{s1_b}.wav"  # audio cut to 2 s
    write_audio(short, load_audio(short, None)[: 2 * GRID_RATE], GRID_RATE)
    grey = bad / "s2" / f"{s2_a}.mpg"
    write_video(grey, np.full((75, 288, 360, 3), 128, np.uint8), 25, audio=load_audio(bad / "s2" / f"{s2_a}.wav"))
    os.remove(bad / "align" / "s2" / f"{s2_b}.align")
    damaged = bad / "align" / "s1" / f"{s1_c}.align"
    damaged.write_text("0 100 sil\nbroken\n")

    code, lines, summary = _check(capsys, bad, "--require_align")
    assert code == 2
    assert len(lines) == 5, lines
    by_file = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in lines}
    assert set(by_file) == {str(thirty), str(short), str(grey), str(bad / "s2" / f"{s2_b}.mpg"), str(damaged)}
    assert "runs at 30 fps but the models are trained on GRID's 25 fps" in by_file[str(thirty)]
    assert "lasts 2.00 s but" in by_file[str(short)] and "75 video frames" in by_file[str(short)]
    assert by_file[str(grey)].startswith("no face found")
    assert f"no alignment {s2_b}.align" in by_file[str(bad / "s2" / f"{s2_b}.mpg")]
    assert by_file[str(damaged)].startswith(f"{s1_c}.align:2: an .align line needs 'start end word'")
    assert all("; " in problem for problem in by_file.values())  # each says what to do
    assert "5 errors, 0 warnings in 5 files" in summary
    # Without --require_align the missing alignment is not a problem; the other four still are.
    code, lines, _ = _check(capsys, bad)
    assert code == 2 and len(lines) == 4


@pytest.mark.media
def test_check_corpus_reads_lrs3_and_warns_without_failing(trees, tmp_path, capsys):
    lrs3 = tmp_path / "lrs3"
    shutil.copytree(trees["lrs3"], lrs3)
    missing = lrs3 / "test" / "0bVid" / "00002.txt"
    os.remove(missing)
    code, lines, summary = _check(capsys, lrs3)
    assert code == 0
    assert lines == [f"{missing}: warning: no transcript (a first line 'Text:  THE WORDS'); the clip can still be "
                     "used where words are not needed"]
    assert "(lrs3 layout" in summary and "0 errors, 1 warning in 1 file" in summary


@pytest.mark.media
def test_check_corpus_warns_on_audio_below_16_khz(trees, tmp_path, capsys):
    low = tmp_path / "grid"
    shutil.copytree(trees["grid"], low)
    clip = grid.list_utterances(trees["seed"], "s1")[0]
    wav = low / "s1" / f"{clip}.wav"
    write_audio(wav, load_audio(wav, 8000), 8000)
    code, lines, summary = _check(capsys, low, "--speakers", "1")
    assert code == 0
    assert lines == [f"{wav}: warning: {clip}.wav is sampled at 8000 Hz, below the 16000 Hz the models use: it will "
                     "be upsampled and have nothing above 4 kHz; use a recording at 16000 Hz or more if there is one"]
    assert summary.startswith("check-corpus: 3 clips of 1 speaker (")

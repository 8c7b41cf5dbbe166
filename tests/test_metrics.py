"""Metrics on real generated signals: PESQ, STOI/ESTOI, BSS-eval SDR (against mir_eval), SI-SDR,
ViSQOL, error rates, the evaluate/format_table report and the ``avse metrics`` command."""

import json
import time
import warnings

import numpy as np
import pytest

from avse_tf.errors import MetricInputError
from avse_tf.metrics import (
    bss_eval_sources,
    edit_distance,
    error_rate,
    estoi,
    evaluate,
    format_table,
    l1,
    pesq,
    sdr,
    si_sdr,
    stoi,
    visqol,
)

RATE = 16000
SNRS = (20, 10, 0, -5)


def speech_like(seconds=3.0, rate=RATE, seed=0):
    """A voiced-speech stand-in: harmonics of a gliding 100-200 Hz f0 under three formant-like
    resonances, amplitude-modulated at a 4 Hz syllable rate, with a 250 ms pause every second (so
    PESQ's voice activity detection and STOI's silent-frame removal both have work to do)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 150 + 50 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    signal = np.zeros_like(t)
    for k in range(1, 40):
        fk = k * f0
        envelope = (np.exp(-((fk - 500) / 300) ** 2) + 0.6 * np.exp(-((fk - 1500) / 400) ** 2)
                    + 0.3 * np.exp(-((fk - 2500) / 500) ** 2) + 0.02)
        signal += envelope * (fk < rate / 2 - 500) * np.sin(k * phase)
    syllables = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 1)), 0, None) ** 0.7
    pauses = (t % 1.0) < 0.75
    signal = signal * syllables * pauses + 1e-3 * rng.standard_normal(len(t))
    return (0.3 * signal / np.max(np.abs(signal))).astype(np.float32)


def white_noise(length, seed=1):
    return np.random.default_rng(seed).standard_normal(length).astype(np.float32)


def add_noise(clean, noise, snr_db):
    gain = np.sqrt(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2) / 10 ** (snr_db / 10))
    return (clean + gain * noise).astype(np.float32)


@pytest.fixture(scope="module")
def clean():
    return speech_like()


@pytest.fixture(scope="module")
def noisy(clean):
    noise = white_noise(len(clean))
    return {snr: add_noise(clean, noise, snr) for snr in SNRS}


def test_identical_signals_score_the_maximum(clean):
    assert stoi(clean, clean, RATE) > 0.99
    assert estoi(clean, clean, RATE) > 0.99
    assert pesq(clean, clean, RATE, mode="wb") == pytest.approx(4.644, abs=0.01)
    assert pesq(clean, clean, RATE, mode="nb") == pytest.approx(4.549, abs=0.01)
    from avse_tf.audio.io import resample

    clean_8k = resample(clean, RATE, 8000)  # narrow band runs on 8 kHz audio as is
    assert pesq(clean_8k, clean_8k, 8000, mode="nb") == pytest.approx(4.549, abs=0.01)
    clean_22k = resample(clean, RATE, 22050)  # other rates are resampled to 16 kHz
    assert pesq(clean_22k, clean_22k, 22050) == pytest.approx(4.644, abs=0.01)


def test_scores_fall_as_noise_rises(clean, noisy):
    scores = {name: [function(clean, noisy[snr]) for snr in SNRS] for name, function in {
        "stoi": lambda ref, est: stoi(ref, est, RATE),
        "estoi": lambda ref, est: estoi(ref, est, RATE),
        "pesq_wb": lambda ref, est: pesq(ref, est, RATE, "wb"),
        "pesq_nb": lambda ref, est: pesq(ref, est, RATE, "nb"),
        "sdr": sdr,
        "si_sdr": si_sdr,
    }.items()}
    for name, values in scores.items():
        assert all(a > b for a, b in zip(values, values[1:])), (name, values)
    # White noise is not a filtered copy of the target, so both SDRs land near the mixing SNR.
    assert np.allclose(scores["si_sdr"], SNRS, atol=0.3), scores["si_sdr"]
    assert np.allclose(scores["sdr"], SNRS, atol=0.5), scores["sdr"]
    assert scores["stoi"][0] > 0.95 and scores["pesq_nb"][-1] < 2


def _separation_case(n_sources, seed=0):
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    sources = [speech_like(seed=seed + 10), white_noise(3 * RATE, seed=seed + 20) * 0.05,
               speech_like(seed=seed + 30)][:n_sources]
    references = np.stack(sources).astype(np.float64)
    mixture = references.sum(axis=0)
    estimates = np.stack([
        lfilter([1.0, 0.4, -0.2], [1.0], references[index]) + 0.2 * mixture
        + 0.01 * rng.standard_normal(mixture.shape)
        for index in range(n_sources)
    ])
    return references, estimates


def _mir_eval(references, estimates):
    import mir_eval

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bss_eval_sources is deprecated in mir_eval 0.8, not removed
        return np.array(mir_eval.separation.bss_eval_sources(references, estimates, compute_permutation=False)[:3])


@pytest.mark.parametrize("n_sources", [2, 3])
def test_bss_eval_sources_matches_mir_eval(n_sources):
    references, estimates = _separation_case(n_sources)
    expected = _mir_eval(references, estimates)
    ours = np.array(bss_eval_sources(references, estimates))
    assert ours.shape == (3, n_sources)
    np.testing.assert_allclose(ours, expected, atol=0.01, rtol=0)
    # The one-target convenience gives the same SDR, with or without the other sources.
    assert sdr(references[0], estimates[0], interferences=references[1:]) == pytest.approx(expected[0, 0], abs=0.01)
    assert sdr(references[0], estimates[0]) == pytest.approx(expected[0, 0], abs=0.01)


def test_bss_eval_sources_is_faster_than_mir_eval():
    references, estimates = _separation_case(2)

    def best_of(function, repeats=3):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
        return min(times)

    ours = best_of(lambda: bss_eval_sources(references, estimates))
    theirs = best_of(lambda: _mir_eval(references, estimates))
    assert ours < theirs, (ours, theirs)


def test_si_sdr_and_l1(clean):
    noise = white_noise(len(clean), seed=7)
    assert si_sdr(clean, 0.5 * clean) > 100  # a scaled copy is perfect up to rounding
    assert si_sdr(clean, add_noise(clean, noise, 0)) == pytest.approx(0, abs=0.2)
    assert si_sdr(clean, clean + 0.3) > 100  # zero-mean: an offset is ignored
    reference, estimate = np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 2.0, 2.0, 0.0])
    assert l1(reference, estimate) == pytest.approx(1.0)
    assert l1(reference, estimate, mask=[False, True, True, False]) == pytest.approx(0.5)
    with pytest.raises(MetricInputError, match="mask selects no values"):
        l1(reference, estimate, mask=np.zeros(4, bool))


@pytest.mark.parametrize("reference_scale", [0.0, 1e-6])
def test_silent_reference_is_refused(clean, reference_scale):
    silent = clean * reference_scale
    for function in (lambda: pesq(silent, clean, RATE), lambda: pesq(silent, clean, RATE, "nb"),
                     lambda: stoi(silent, clean, RATE), lambda: visqol(silent, clean, RATE)):
        with pytest.raises(MetricInputError, match="reference is silent"):
            function()
    if reference_scale == 0:  # SDRs are scale invariant: only all zeros is silent for them
        with pytest.raises(MetricInputError, match="reference"):
            sdr(silent, clean)
        with pytest.raises(MetricInputError, match="reference"):
            si_sdr(silent, clean)
    with pytest.raises(MetricInputError, match="estimate is silent"):
        pesq(clean, clean * reference_scale, RATE)


def test_bad_lengths_rates_and_clips(clean, noisy):
    # Under 1 % shorter: trimmed; more: refused, naming both lengths.
    assert stoi(clean, noisy[10][:-100], RATE) == pytest.approx(stoi(clean[:-100], noisy[10][:-100], RATE))
    with pytest.raises(MetricInputError, match="48000.*40000"):
        pesq(clean, noisy[10][:40000], RATE)
    with pytest.raises(MetricInputError, match="wide-band PESQ needs"):
        pesq(clean[::2], clean[::2], 8000, mode="wb")
    with pytest.raises(MetricInputError, match="too short for PESQ"):
        pesq(clean[:2000], clean[:2000], RATE)
    with pytest.raises(MetricInputError, match="too little speech for STOI"):
        stoi(clean[:3000], clean[:3000], RATE)
    with pytest.raises(MetricInputError, match="one estimate per reference"):
        bss_eval_sources(np.stack([clean, noisy[0]]), clean[np.newaxis])


def test_edit_distance_and_error_rate():
    assert edit_distance("a b c", "a x c d") == 2
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance([], ["a", "b"]) == 2 and edit_distance("a b", "") == 2
    assert edit_distance("a b c", "a b c") == 0
    # Word error rate pools edits over utterances: (1 insertion + 1 deletion) / 6 words.
    assert error_rate(["the cat sat", "on the mat"], ["the cat sat down", "on mat"]) == pytest.approx(2 / 6)
    assert error_rate("bin blue at f two now", "bin blue at f two now") == 0
    # Phone error rate on token lists: one substitution in 5 phones.
    assert error_rate([["sil", "b", "ih", "n", "sil"]], [["sil", "p", "ih", "n", "sil"]]) == pytest.approx(0.2)
    with pytest.raises(MetricInputError, match="one hypothesis per reference"):
        error_rate(["a b", "c"], ["a b"])
    with pytest.raises(MetricInputError, match="no tokens"):
        error_rate([""], ["a"])


def test_edit_distance_agrees_with_plain_dynamic_programming():
    def plain(a, b):
        table = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
        return table[-1][-1]

    rng = np.random.default_rng(3)
    for _ in range(200):
        a = list(rng.integers(0, 4, rng.integers(0, 12)))
        b = list(rng.integers(0, 4, rng.integers(0, 12)))
        assert edit_distance(a, b) == plain(a, b), (a, b)


@pytest.mark.slow  # the first ViSQOL call compiles its numba kernels (~10 s, then cached on disk)
def test_visqol_prefers_the_clean_signal(clean, noisy):
    identical = visqol(clean, clean, RATE)
    assert identical == pytest.approx(5.0, abs=0.01)
    assert identical > visqol(clean, noisy[20], RATE) > visqol(clean, noisy[0], RATE) >= 1.0


def test_evaluate_and_format_table(clean, noisy):
    estimate = add_noise(clean, white_noise(len(clean), seed=5), 15)
    scores = evaluate(clean, estimate, mixture=noisy[0], metrics=("sdr", "pesq", "stoi"))
    assert list(scores) == ["sdr", "pesq", "stoi"]
    for row in scores.values():
        assert set(row) == {"estimate", "mixture", "improvement"}
        assert row["improvement"] == pytest.approx(row["estimate"] - row["mixture"])
        assert row["improvement"] > 0
    assert set(evaluate(clean, estimate, metrics=["si_sdr"])["si_sdr"]) == {"estimate"}
    with pytest.raises(MetricInputError, match="unknown metric snr"):
        evaluate(clean, estimate, metrics=["snr"])
    with pytest.raises(MetricInputError, match="mixture has 24000 samples"):
        evaluate(clean, estimate, mixture=noisy[0][:24000], metrics=["sdr"])

    table = format_table(scores).splitlines()
    assert table[0].split() == ["metric", "estimate", "mixture", "improvement"]
    assert [line.split()[0] for line in table[1:]] == ["sdr", "pesq", "stoi"]
    assert len({len(line) for line in table}) == 1  # aligned: every line as wide as the header
    assert format_table({"a": {"x": 1.0}, "b": {"y": float("inf")}}).splitlines()[2].split() == ["b", "-", "inf"]


def test_metrics_command(tmp_path, capsys, clean, noisy):
    from avse_tf.audio.io import write_audio
    from avse_tf.cli.main import main

    paths = {}
    for name, signal in {"clean": clean, "estimate": add_noise(clean, white_noise(len(clean), 9), 15),
                         "mixture": noisy[0]}.items():
        paths[name] = str(tmp_path / f"{name}.wav")
        write_audio(paths[name], signal, RATE)
    output = tmp_path / "scores.json"
    assert main(["metrics", "--reference", paths["clean"], "--estimate", paths["estimate"],
                 "--mixture", paths["mixture"], "--json", str(output)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["metric", "estimate", "mixture", "improvement"]
    assert [line.split()[0] for line in lines[1:7]] == ["sdr", "si_sdr", "pesq", "stoi", "estoi", "visqol"]
    document = json.loads(output.read_text())
    assert document["metrics"]["pesq"]["improvement"] > 0 and document["mixture"] == paths["mixture"]

    # A truncated and an empty wav: exit code 2 and one line naming the file.
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(open(paths["estimate"], "rb").read()[:20000])
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    for broken in (truncated, empty):
        assert main(["metrics", "--reference", paths["clean"], "--estimate", str(broken),
                     "--metrics", "sdr"]) == 2
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("avse: error:") and str(broken) in lines[0], captured.err
        assert captured.out == ""

    # A silent reference and a misspelt metric: the same one-line error.
    silent = str(tmp_path / "silent.wav")
    write_audio(silent, np.zeros_like(clean), RATE)
    for arguments in (["--reference", silent, "--estimate", paths["estimate"], "--metrics", "pesq"],
                      ["--reference", paths["clean"], "--estimate", paths["estimate"], "--metrics", "pesq,snr"]):
        assert main(["metrics", *arguments]) == 2
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("avse: error:"), lines

"""Energy-ratio metrics: BSS-eval v3 SDR/SIR/SAR, SI-SDR, and the L1 error.

:func:`bss_eval_sources` follows BSS-eval v3 (Vincent, Gribonval & Fevotte, "Performance
measurement in blind audio source separation", IEEE TASLP 14(4), 2006), in the form that
``mir_eval.separation.bss_eval_sources(..., compute_permutation=False)`` implements: each estimate
is projected onto the span of the references delayed by 0..511 samples (a 512-tap time-invariant
distortion filter per reference), by solving the normal equations exactly, with no regularisation
(mir_eval: ``np.linalg.solve(G, D)``, ``lstsq`` when G is singular). The numbers agree with
mir_eval to about 1e-10 dB for speech and noise. (When a reference has next to no energy in some
band, e.g. steeply low-passed noise, the Gram matrix of several sources is numerically singular,
condition number beyond 1e16: SIR and SAR then depend on rounding, in mir_eval as here, by up to
tenths of a dB; SDR still agrees.) It is faster because every cross-correlation comes from one
batched real FFT, the Gram matrix of all references is built and factored (Cholesky: it is
symmetric positive definite) once for all estimates, the target-only Toeplitz systems are solved by
Levinson recursion, and the projections are filtered in the frequency domain.

:func:`si_sdr` is the scale-invariant SDR of Le Roux, Wisdom, Erdogan & Hershey, "SDR -- half-baked
or well done?", ICASSP 2019 (zero-mean signals, optimal scaling of the reference).

Two-signal functions trim lengths that differ by less than 1 % (see :mod:`._signals`). SDR and
SI-SDR are scale invariant, so only an all-zero signal counts as silent here.
"""

from __future__ import annotations

import numpy as np

from avse_tf.errors import MetricInputError
from avse_tf.metrics._signals import align_lengths, as_signal, signal_pair

FILTER_LENGTH = 512  # BSS-eval v3's distortion filter length (taps)


def _as_sources(sources, name: str) -> np.ndarray:
    array = np.asarray(sources)
    if array.ndim == 1:
        array = array[np.newaxis]
    if array.ndim != 2:
        raise MetricInputError(
            f"{name} must have shape [n_sources, n_samples], got {array.shape}; stack one mono signal per row"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise MetricInputError(f"{name} is empty (shape {array.shape}); give at least one non-empty signal")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise MetricInputError(f"{name} contains NaN or infinite samples; check how it was produced")
    return array


def _require_nonzero(sources: np.ndarray, name: str) -> None:
    """Refuse all-zero rows: BSS-eval's projection is undefined for them (mir_eval refuses too)."""
    silent = np.flatnonzero(~np.any(sources != 0, axis=1))
    if silent.size == 0:
        return
    if sources.shape[0] == 1:
        raise MetricInputError(f"{name} is all zeros: SDR is undefined for a silent signal; check the {name}")
    raise MetricInputError(
        f"{name} row {int(silent[0])} is all zeros: BSS-eval needs every source to be non-silent; "
        "drop that source or check it"
    )


def _solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve the symmetric positive (semi)definite system ``gram @ x = rhs`` exactly.

    Cholesky (half the work of mir_eval's LU, same answer for a positive definite Gram matrix);
    when the matrix is numerically singular, mir_eval's path: LU, then least squares.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    try:
        return cho_solve(cho_factor(gram, check_finite=False), rhs, check_finite=False)
    except LinAlgError:
        pass
    try:
        return np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(gram, rhs, rcond=None)[0]


def _solve_toeplitz(first_column: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve the symmetric Toeplitz system of one reference's delayed copies.

    Levinson recursion, O(flen^2) instead of O(flen^3); the dense solver when a leading minor is
    singular (a reference with almost no bandwidth).
    """
    from scipy.linalg import LinAlgError, solve_toeplitz, toeplitz

    try:
        solution = solve_toeplitz(first_column, rhs, check_finite=False)
        if np.all(np.isfinite(solution)):
            return solution
    except LinAlgError:
        pass
    return _solve(toeplitz(first_column), rhs)


def _db(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # A zero error energy is a perfect score, +inf dB (as mir_eval's _safe_db).
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(denominator == 0, np.inf, numerator / np.where(denominator == 0, 1, denominator))
        return 10 * np.log10(ratio)


def _bss_decompose(references: np.ndarray, estimates: np.ndarray, targets: np.ndarray,
                   filter_length: int, with_interference: bool):
    """SDR (and SIR, SAR) of ``estimates[k]`` against ``references[targets[k]]``.

    ``references`` [n_src, n] and ``estimates`` [n_est, n], already checked. Returns three arrays
    of length n_est (SIR and SAR are None without ``with_interference``).
    """
    n_src, n_samples = references.shape
    n_est = estimates.shape[0]
    flen = int(filter_length)
    out_length = n_samples + flen - 1  # the filtered reference is flen - 1 samples longer
    n_fft = int(2 ** np.ceil(np.log2(out_length)))  # no circular wrap-around in any correlation

    ref_f = np.fft.rfft(references, n_fft, axis=-1)
    est_f = np.fft.rfft(estimates, n_fft, axis=-1)
    taps = np.arange(flen)
    back_lags = (-taps) % n_fft  # <ref_i delayed by a, estimate> sits at lag -a

    if with_interference:
        # All reference cross-correlations in one batched inverse FFT: [n_src, n_src, n_fft].
        ref_xcorr = np.fft.irfft(ref_f[:, np.newaxis] * np.conj(ref_f[np.newaxis]), n_fft, axis=-1)
        # Gram entry <ref_i delayed by a, ref_j delayed by b> is their cross-correlation at lag b - a.
        toeplitz_lags = (taps[np.newaxis, :] - taps[:, np.newaxis]) % n_fft
        blocks = ref_xcorr[:, :, toeplitz_lags]  # [n_src, n_src, flen, flen]
        gram = blocks.transpose(0, 2, 1, 3).reshape(n_src * flen, n_src * flen)
    else:
        ref_xcorr = None

    # Correlations of each estimate with the references it needs.
    if with_interference:
        est_xcorr = np.fft.irfft(ref_f[np.newaxis] * np.conj(est_f[:, np.newaxis]), n_fft, axis=-1)
        rhs_all = est_xcorr[:, :, back_lags]  # [n_est, n_src, flen]
        rhs_target = rhs_all[np.arange(n_est), targets]
    else:
        est_xcorr = np.fft.irfft(ref_f[targets] * np.conj(est_f), n_fft, axis=-1)
        rhs_target = est_xcorr[:, back_lags]  # [n_est, flen]

    # Projection on the target's own delayed copies: the "filtered true source" s_target + e_spat.
    # Its Gram matrix is symmetric Toeplitz, given by the target's autocorrelation at lags 0..flen-1.
    if ref_xcorr is not None:
        autocorrelations = ref_xcorr[targets, targets, :flen]
    else:
        autocorrelations = np.fft.irfft(np.abs(ref_f[targets]) ** 2, n_fft, axis=-1)[:, :flen]
    target_filters = np.stack([_solve_toeplitz(column, rhs) for column, rhs in zip(autocorrelations, rhs_target)])
    target_proj = np.fft.irfft(np.fft.rfft(target_filters, n_fft, axis=-1) * ref_f[targets], n_fft,
                               axis=-1)[:, :out_length]
    padded = np.zeros((n_est, out_length))
    padded[:, :n_samples] = estimates

    target_energy = np.sum(target_proj ** 2, axis=-1)
    sdr = _db(target_energy, np.sum((padded - target_proj) ** 2, axis=-1))
    if not with_interference:
        return sdr, None, None

    if n_src == 1:
        # One source: nothing interferes (mir_eval gives SIR = +inf and SAR = SDR too).
        return sdr, np.full(n_est, np.inf), sdr.copy()
    # Projection on every reference's delayed copies: adds the interference e_interf.
    filters = _solve(gram, rhs_all.reshape(n_est, n_src * flen).T).T.reshape(n_est, n_src, flen)
    filters_f = np.fft.rfft(filters, n_fft, axis=-1)
    all_proj = np.fft.irfft(np.einsum("kif,if->kf", filters_f, ref_f), n_fft, axis=-1)[:, :out_length]
    sir = _db(target_energy, np.sum((all_proj - target_proj) ** 2, axis=-1))
    sar = _db(np.sum(all_proj ** 2, axis=-1), np.sum((padded - all_proj) ** 2, axis=-1))
    return sdr, sir, sar


def bss_eval_sources(reference_sources, estimated_sources, filter_length: int = FILTER_LENGTH):
    """BSS-eval v3 source-to-distortion, -interference and -artifact ratios, in dB.

    Vincent, Gribonval & Fevotte (2006), time-invariant 512-tap distortion filters; the same
    numbers as ``mir_eval.separation.bss_eval_sources(ref, est, compute_permutation=False)``
    (estimate ``j`` is scored against reference ``j``; no permutation search).

    Args:
        reference_sources: [n_src, n_samples] true sources (a 1-D array is one source).
        estimated_sources: [n_src, n_samples] estimates, row ``j`` for source ``j``.
        filter_length: distortion filter taps (512 in BSS-eval v3).

    Returns:
        ``(sdr, sir, sar)``, three float64 arrays of length n_src; +inf where an error is exactly 0.

    Raises:
        MetricInputError: different source counts, lengths differing by >= 1 % (smaller
        differences are trimmed), or an all-zero source or estimate.
    """
    references = _as_sources(reference_sources, "reference_sources")
    estimates = _as_sources(estimated_sources, "estimated_sources")
    if references.shape[0] != estimates.shape[0]:
        raise MetricInputError(
            f"reference_sources has {references.shape[0]} sources but estimated_sources has "
            f"{estimates.shape[0]}; give one estimate per reference"
        )
    trimmed = align_lengths({"reference_sources": references.T, "estimated_sources": estimates.T})
    references, estimates = trimmed["reference_sources"].T, trimmed["estimated_sources"].T
    _require_nonzero(references, "reference_sources")
    _require_nonzero(estimates, "estimated_sources")
    targets = np.arange(references.shape[0])
    return _bss_decompose(references, estimates, targets, filter_length, with_interference=True)


def sdr(reference, estimate, interferences=None, filter_length: int = FILTER_LENGTH) -> float:
    """BSS-eval v3 SDR (dB) of ``estimate`` against the target ``reference`` (Vincent et al. 2006).

    ``interferences`` (optional) are the other sources of the mixture, e.g. ``[noise]`` to score
    the target against ``[target, interferer-sum]`` as the enhancement paper does. They are checked
    (same length, not silent) but cannot change the number: in BSS-eval v3 the SDR of a source
    depends only on the projection onto that source's own delayed copies; the other sources split
    the remaining error into interference and artifacts (SIR, SAR: use :func:`bss_eval_sources`).
    The value equals ``mir_eval.separation.bss_eval_sources([reference, *interferences],
    [estimate, ...])[0][0]``.
    """
    reference, estimate = signal_pair(reference, estimate)
    if interferences is not None:
        # One 1-D array is one interference; a 2-D array or a list holds one per row / item.
        single = isinstance(interferences, np.ndarray) and interferences.ndim == 1
        others = [interferences] if single else list(interferences)
        for index, other in enumerate(others):
            other = as_signal(other, f"interference {index}")
            align_lengths({"reference": reference, f"interference {index}": other})
            _require_nonzero(other[np.newaxis], "interference")
    _require_nonzero(reference[np.newaxis], "reference")
    _require_nonzero(estimate[np.newaxis], "estimate")
    value, _, _ = _bss_decompose(reference[np.newaxis], estimate[np.newaxis], np.array([0]),
                                 filter_length, with_interference=False)
    return float(value[0])


def si_sdr(reference, estimate) -> float:
    """Scale-invariant SDR in dB (Le Roux, Wisdom, Erdogan & Hershey, ICASSP 2019).

    Both signals are made zero-mean, the reference is scaled by the optimal
    ``alpha = <estimate, reference> / ||reference||^2``, and
    ``SI-SDR = 10 log10(||alpha reference||^2 / ||estimate - alpha reference||^2)``.
    A perfectly scaled copy gives +inf. Lengths within 1 % are trimmed.
    """
    reference, estimate = signal_pair(reference, estimate)
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    if not np.any(reference):
        raise MetricInputError("reference is constant (zero after removing its mean): SI-SDR is undefined; "
                               "check that the reference is the clean signal")
    if not np.any(estimate):
        raise MetricInputError("estimate is constant (zero after removing its mean): SI-SDR is undefined "
                               "for a silent estimate; check the estimate file")
    alpha = np.dot(estimate, reference) / np.dot(reference, reference)
    target = alpha * reference
    error = estimate - target
    return float(_db(np.sum(target ** 2), np.sum(error ** 2)))


def l1(reference, estimate, mask=None) -> float:
    """Mean absolute error ``mean(|reference - estimate|)``, over ``mask`` only when given.

    Works on arrays of any shape (waveforms, spectrograms) as long as both shapes match; ``mask``
    is a boolean array broadcastable to that shape (e.g. the inpainted region).
    """
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    if reference.shape != estimate.shape:
        raise MetricInputError(
            f"reference has shape {reference.shape} but estimate has {estimate.shape}; L1 needs equal shapes"
        )
    error = np.abs(reference - estimate)
    if mask is None:
        if error.size == 0:
            raise MetricInputError("reference and estimate are empty; L1 needs at least one value")
        return float(error.mean())
    mask = np.asarray(mask, dtype=bool)
    try:
        mask = np.broadcast_to(mask, error.shape)
    except ValueError:
        raise MetricInputError(
            f"mask of shape {mask.shape} does not fit signals of shape {error.shape}; give a matching mask"
        ) from None
    if not mask.any():
        raise MetricInputError("mask selects no values; L1 over an empty region is undefined")
    return float(error[mask].mean())

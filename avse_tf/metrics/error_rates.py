"""Token error rates: Levenshtein edit distance, WER on words, PER on phones.

An utterance is either a string (split on whitespace) or a sequence of tokens (phones, words).
``error_rate`` pools the edits of all utterances and divides by the pooled reference length, the
usual corpus-level WER / PER (not a mean of per-utterance rates).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from avse_tf.errors import MetricInputError


def _tokens(utterance, name: str) -> list:
    if isinstance(utterance, str):
        return utterance.split()
    if isinstance(utterance, (bytes, bytearray)):
        return utterance.decode().split()
    try:
        return list(utterance)
    except TypeError:
        raise MetricInputError(
            f"{name} must be a string or a sequence of tokens, got {type(utterance).__name__}"
        ) from None


def edit_distance(reference_tokens, hypothesis_tokens) -> int:
    """Levenshtein distance: fewest substitutions + deletions + insertions turning one into the other.

    Strings are split on whitespace; any other sequence is compared token by token (tokens must be
    hashable). Dynamic programming one reference token at a time, each row computed with numpy.
    """
    reference = _tokens(reference_tokens, "reference")
    hypothesis = _tokens(hypothesis_tokens, "hypothesis")
    if not reference or not hypothesis:
        return max(len(reference), len(hypothesis))
    vocabulary: dict = {}
    try:
        ref_ids = np.array([vocabulary.setdefault(token, len(vocabulary)) for token in reference])
        hyp_ids = np.array([vocabulary.setdefault(token, len(vocabulary)) for token in hypothesis])
    except TypeError:
        raise MetricInputError("tokens must be hashable (strings, numbers); got an unhashable token") from None
    positions = np.arange(len(hyp_ids) + 1)
    row = positions.copy()  # distance from the empty reference prefix: insert every token
    for index, ref_id in enumerate(ref_ids, start=1):
        # Substitution (or match) from the diagonal, deletion from above ...
        candidates = np.empty_like(row)
        candidates[0] = index
        candidates[1:] = np.minimum(row[:-1] + (hyp_ids != ref_id), row[1:] + 1)
        # ... then insertions chain left to right: new[j] = min_k<=j (candidates[k] + j - k),
        # a running minimum of candidates - position.
        row = np.minimum.accumulate(candidates - positions) + positions
    return int(row[-1])


def _utterances(value, name: str) -> list:
    """A string is one utterance; any other sequence is a list of utterances."""
    if isinstance(value, (str, bytes, bytearray)):
        return [value]
    if not isinstance(value, Sequence) and not isinstance(value, np.ndarray):
        try:
            value = list(value)
        except TypeError:
            raise MetricInputError(f"{name} must be a string or a list of utterances") from None
    return list(value)


def error_rate(references, hypotheses) -> float:
    """Total edit distance over total reference tokens (WER on words, PER on phones).

    ``references`` and ``hypotheses`` are either one utterance given as a string, or equal-length
    lists of utterances, each a string (split on whitespace) or a list of tokens. A flat list of
    strings is a list of utterances (as in jiwer); to score one phone sequence given as a list,
    wrap it: ``error_rate([ref_phones], [hyp_phones])``.

    Raises:
        MetricInputError: different numbers of utterances, or no reference tokens at all.
    """
    reference_list = _utterances(references, "references")
    hypothesis_list = _utterances(hypotheses, "hypotheses")
    if len(reference_list) != len(hypothesis_list):
        raise MetricInputError(
            f"{len(reference_list)} reference utterances but {len(hypothesis_list)} hypotheses; "
            "give one hypothesis per reference"
        )
    edits = 0
    total = 0
    for index, (reference, hypothesis) in enumerate(zip(reference_list, hypothesis_list)):
        reference_tokens = _tokens(reference, f"reference {index}")
        edits += edit_distance(reference_tokens, _tokens(hypothesis, f"hypothesis {index}"))
        total += len(reference_tokens)
    if total == 0:
        raise MetricInputError("the references hold no tokens, so the error rate is undefined; "
                               "check the reference transcripts")
    return edits / total

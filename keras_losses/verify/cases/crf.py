"""Verification cases of keras_losses.crf and the CRF losses.

Every function is checked against brute force over all `K**L` tag sequences of each
row (`testing/reference/crf.py`), with rows of every length from 0 to T, with and
without boundary transitions; gradients by finite differences of the brute force.
The log-likelihood is also checked against pytorch-crf (`torchcrf.CRF.forward`,
values and autograd gradients) when it is installed. The losses are checked on the
packed potentials that `layers.CRF` hands them, so the unpacking is verified too.
"""


import numpy as np

from keras_losses import crf
from keras_losses.losses import crf as crf_losses
from keras_losses.testing.reference import crf as reference_crf
from keras_losses.verify.case import NUMPY
from keras_losses.verify.case import TORCH
from keras_losses.verify.case import Case
from keras_losses.verify.case import Reference
from keras_losses.verify.case import draw

STEPS, TAGS = 4, 3
LENGTHS = (0, 1, 2, 3, 4, 4)  # every length from 0 to STEPS


def _inputs(boundaries=True, tags=True, gap=None, cost=0.0):
    """Random emissions, transitions and masks of every length; `gap`: keep the
    (loss-augmented) best sequence of each row ahead of the next by at least it."""

    def sample(rng):
        batch = len(LENGTHS)
        mask = np.arange(STEPS)[None, :] < np.array(LENGTHS)[:, None]
        values = {
            "emissions": rng.normal(0.0, 1.5, (batch, STEPS, TAGS)),
            "transitions": rng.normal(0.0, 1.0, (TAGS, TAGS)),
            "mask": mask,
        }
        if boundaries:
            values["start_transitions"] = rng.normal(0.0, 1.0, TAGS)
            values["end_transitions"] = rng.normal(0.0, 1.0, TAGS)
        if tags:
            values["tags"] = np.where(mask, rng.integers(0, TAGS, (batch, STEPS)), -1)
        return values

    def accept(values):
        return gap is None or _top_two_gap(values, cost) > gap

    return lambda rng: draw(rng, sample, accept)


def _top_two_gap(values, cost):
    """The smallest gap between the best and second-best (augmented) sequence of a row."""
    gaps = []
    for b, length in enumerate(LENGTHS):
        if length == 0:
            continue
        emissions = values["emissions"][b]
        start = values.get("start_transitions", np.zeros(TAGS))
        end = values.get("end_transitions", np.zeros(TAGS))
        paths = reference_crf.all_paths(TAGS, length)
        scores = np.array(
            [reference_crf.path_score(emissions, p, values["transitions"], start, end) for p in paths]
        )
        if "tags" in values:
            scores = scores + cost * np.sum(paths != values["tags"][b, :length], axis=1)
        top = np.sort(scores)[-2:]
        gaps.append(top[1] - top[0])
    return min(gaps)


def _keywords(inputs):
    return {k: inputs[k] for k in ("start_transitions", "end_transitions", "mask") if k in inputs}


def _call(name, pick=None):
    """Applies `crf.<name>` to the case inputs (positional arguments in API order)."""

    def call(fn, **inputs):
        positional = [inputs["emissions"]]
        if "tags" in inputs and name != "viterbi_decode" and name != "log_partition" and name != "marginals":
            positional.append(inputs["tags"])
        positional.append(inputs["transitions"])
        result = fn(*positional, **_keywords(inputs))
        return result if pick is None else result[pick]

    return call


def _oracle(fn, with_tags=True):
    def reference(emissions, transitions, tags=None, start_transitions=None, end_transitions=None, mask=None):
        keywords = {"start_transitions": start_transitions, "end_transitions": end_transitions, "mask": mask}
        if with_tags:
            return fn(emissions, tags, transitions, **keywords)
        return fn(emissions, transitions, **keywords)

    return reference


def _torch_log_likelihood(emissions, tags, transitions, start_transitions=None, end_transitions=None, mask=None):
    """`torchcrf.CRF(K, batch_first=True).forward(..., reduction="none")` with our weights.

    pytorch-crf always has boundary transitions (zeros stand for none) and needs the
    first step of every row real, so an empty row is given one step and its value
    set to 0, as ours is.
    """
    import torch
    import torchcrf

    num_tags = emissions.shape[-1]
    model = torchcrf.CRF(num_tags, batch_first=True).double()
    weights = {
        "transitions": transitions,
        "start_transitions": torch.zeros(num_tags, dtype=torch.float64) if start_transitions is None else start_transitions,
        "end_transitions": torch.zeros(num_tags, dtype=torch.float64) if end_transitions is None else end_transitions,
    }
    for key, value in weights.items():
        del model._parameters[key]
        setattr(model, key, value.double())
    mask = mask.bool()
    empty = ~mask[:, 0]
    mask = mask.clone()
    mask[:, 0] = True
    tags = torch.where(mask, tags.long(), torch.zeros_like(tags.long()))
    values = model(emissions.double(), tags, mask=mask.to(torch.uint8), reduction="none")
    return torch.where(empty, torch.zeros_like(values), values)


def _function_case(name, oracle, with_tags, boundaries=True, wrt="emissions", quick=False, pick=None,
                   gap=None, torch=False, suffix=""):
    references = [Reference("NumPy brute force", NUMPY, _oracle(oracle, with_tags))]
    if torch:
        # Skipped, and said so, where pytorch-crf (or torch) is not installed.
        references.append(Reference("torchcrf.CRF.forward", TORCH, _torch_log_likelihood, library="torchcrf"))
    label = f"crf.{name}({'boundaries' if boundaries else 'no boundaries'}{', wrt ' + wrt if wrt != 'emissions' else ''}{suffix})"
    return Case(
        name=label,
        family="crf",
        build=lambda: getattr(crf, name),
        inputs=_inputs(boundaries=boundaries, tags=with_tags, gap=gap),
        references=tuple(references),
        wrt=wrt,
        low_precision=("emissions",),
        quick=quick,
        call=_call(name, pick),
    )


def _hinge_case(cost, boundaries=True):
    def call(fn, **inputs):
        return fn(inputs["emissions"], inputs["tags"], inputs["transitions"], cost=cost, **_keywords(inputs))

    def oracle(emissions, tags, transitions, start_transitions=None, end_transitions=None, mask=None):
        return reference_crf.structured_hinge(
            emissions, tags, transitions, start_transitions, end_transitions, mask, cost=cost
        )

    return Case(
        name=f"crf.structured_hinge(cost={cost}, {'boundaries' if boundaries else 'no boundaries'})",
        family="crf",
        build=lambda: crf.structured_hinge,
        inputs=_inputs(boundaries=boundaries, gap=0.05, cost=cost),
        references=(Reference("NumPy brute force (loss-augmented)", NUMPY, oracle),),
        wrt="emissions",
        low_precision=("emissions",),
        quick=cost == 1.0 and boundaries,
        call=call,
    )


def _packed_inputs(gap=None, cost=0.0):
    sample = _inputs(boundaries=True, gap=gap, cost=cost)

    def inputs(rng):
        values = sample(rng)
        potentials = crf.pack(
            values["emissions"].astype("float32"),
            values["transitions"].astype("float32"),
            values["start_transitions"].astype("float32"),
            values["end_transitions"].astype("float32"),
            values["mask"],
        )
        return {"y_true": values["tags"], "y_pred": np.asarray(potentials, np.float64)}

    return inputs


def _on_packed(fn, **extra):
    def reference(y_true, y_pred):
        emissions, transitions, start, end, mask = reference_crf.unpack(y_pred)
        return fn(emissions, y_true, transitions, start, end, mask, **extra)

    return reference


def _loss_cases():
    return [
        Case(
            name="CRFLoss(potentials of layers.CRF)",
            family="crf",
            build=lambda: crf_losses.CRFLoss(reduction=None),
            inputs=_packed_inputs(),
            references=(
                Reference("NumPy brute force", NUMPY, _on_packed(lambda *a: -reference_crf.log_likelihood(*a))),
            ),
            quick=True,
        ),
        Case(
            name="StructuredHingeLoss(cost=0.5, potentials of layers.CRF)",
            family="crf",
            build=lambda: crf_losses.StructuredHingeLoss(cost=0.5, reduction=None),
            inputs=_packed_inputs(gap=0.05, cost=0.5),
            references=(Reference("NumPy brute force", NUMPY, _on_packed(reference_crf.structured_hinge, cost=0.5)),),
        ),
    ]


def _cases():
    # sequence_score is checked through log_likelihood (score - log Z, both from brute
    # force); the start and end transitions' gradients in tests/test_crf.py.
    cases = []
    for boundaries in (True, False):
        cases += [
            _function_case("log_likelihood", reference_crf.log_likelihood, True, boundaries,
                           quick=boundaries, torch=True),
            _function_case("marginals", reference_crf.marginals, False, boundaries, quick=boundaries),
        ]
    cases += [
        _function_case("log_partition", reference_crf.log_partition, False, True),
        _function_case("log_likelihood", reference_crf.log_likelihood, True, True, wrt="transitions",
                       torch=True),
        _function_case("viterbi_decode", reference_crf.viterbi_scores, False, True,
                       pick=1, gap=0.05, suffix=", scores"),
        _hinge_case(1.0),
        _hinge_case(0.0, boundaries=False),
    ]
    return cases + _loss_cases()


CASES = _cases()

"""keras_losses.crf against brute force, pytorch-crf, finite differences and its identities."""

import itertools

import keras
import numpy as np
import pytest

from keras_losses import crf
from keras_losses.testing import backends
from keras_losses.testing.reference import crf as brute
from tests import harness

test_reference_equality = harness.reference_equality_test("crf")

BACKEND = keras.backend.backend()


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _problem(seed, batch, steps, tags, lengths=None, boundaries=True, scale=1.0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, steps + 1, batch) if lengths is None else np.asarray(lengths)
    mask = np.arange(steps)[None, :] < lengths[:, None]
    problem = {
        "emissions": rng.normal(0, scale, (batch, steps, tags)).astype("float32"),
        "transitions": rng.normal(0, 1, (tags, tags)).astype("float32"),
        "mask": mask,
        "tags": np.where(mask, rng.integers(0, tags, (batch, steps)), -1),
        "start_transitions": rng.normal(0, 1, tags).astype("float32") if boundaries else None,
        "end_transitions": rng.normal(0, 1, tags).astype("float32") if boundaries else None,
    }
    return problem


def _keywords(p):
    return {k: p[k] for k in ("start_transitions", "end_transitions", "mask")}


def _tolerance(p):
    return dict(rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("boundaries", [True, False], ids=["boundaries", "no-boundaries"])
@pytest.mark.parametrize("steps", [1, 2, 4])
class TestAgainstBruteForce:
    """Every length of mask from 0 to T in one batch, K = 3 tags: 3**4 = 81 sequences."""

    def problem(self, steps, boundaries):
        lengths = list(range(steps + 1)) + [steps]
        return _problem(steps, len(lengths), steps, 3, lengths=lengths, boundaries=boundaries)

    def test_log_partition_and_likelihood_and_score(self, steps, boundaries):
        p = self.problem(steps, boundaries)
        args = (p["emissions"], p["transitions"])
        np.testing.assert_allclose(
            numpy(crf.log_partition(*args, **_keywords(p))),
            brute.log_partition(*args, **_keywords(p)), **_tolerance(p),
        )
        for fn in ("sequence_score", "log_likelihood"):
            np.testing.assert_allclose(
                numpy(getattr(crf, fn)(p["emissions"], p["tags"], p["transitions"], **_keywords(p))),
                getattr(brute, fn)(p["emissions"], p["tags"], p["transitions"], **_keywords(p)),
                **_tolerance(p),
            )

    def test_viterbi_is_the_argmax(self, steps, boundaries):
        p = self.problem(steps, boundaries)
        tags, scores = crf.viterbi_decode(p["emissions"], p["transitions"], **_keywords(p))
        expected_tags, expected_scores = brute.viterbi(p["emissions"], p["transitions"], **_keywords(p))
        assert str(numpy(tags).dtype) == "int32"
        np.testing.assert_array_equal(numpy(tags), expected_tags)  # -1 at masked steps
        np.testing.assert_allclose(numpy(scores), expected_scores, **_tolerance(p))

    def test_marginals(self, steps, boundaries):
        p = self.problem(steps, boundaries)
        np.testing.assert_allclose(
            numpy(crf.marginals(p["emissions"], p["transitions"], **_keywords(p))),
            brute.marginals(p["emissions"], p["transitions"], **_keywords(p)),
            rtol=1e-5, atol=1e-6,
        )

    @pytest.mark.parametrize("cost", [0.0, 1.0, 3.0])
    def test_structured_hinge_is_the_loss_augmented_argmax(self, steps, boundaries, cost):
        p = self.problem(steps, boundaries)
        values = crf.structured_hinge(p["emissions"], p["tags"], p["transitions"], cost=cost, **_keywords(p))
        _, expected = brute.loss_augmented(p["emissions"], p["tags"], p["transitions"], cost=cost, **_keywords(p))
        np.testing.assert_allclose(numpy(values), expected, **_tolerance(p))
        assert np.all(numpy(values) >= 0)

    def test_empty_rows_are_zero(self, steps, boundaries):
        p = self.problem(steps, boundaries)
        empty = ~p["mask"].any(axis=1)
        for value in (
            crf.log_partition(p["emissions"], p["transitions"], **_keywords(p)),
            crf.log_likelihood(p["emissions"], p["tags"], p["transitions"], **_keywords(p)),
            crf.viterbi_decode(p["emissions"], p["transitions"], **_keywords(p))[1],
            crf.structured_hinge(p["emissions"], p["tags"], p["transitions"], **_keywords(p)),
        ):
            assert np.all(numpy(value)[empty] == 0)


class TestLossAugmentedDecoding:
    def test_the_rival_sequence_is_the_brute_force_one(self):
        # The hinge's gradient with respect to the emissions is onehot(rival) - onehot(gold)
        # at real steps: read the rival off it and compare it with brute force.
        p = _problem(3, 6, 4, 3, lengths=[0, 1, 2, 3, 4, 4])
        emissions = keras.ops.convert_to_tensor(p["emissions"])
        _, grad = harness.value_and_grad(
            lambda e: crf.structured_hinge(e, p["tags"], p["transitions"], cost=2.0, **_keywords(p)), emissions
        )
        best, losses = brute.loss_augmented(p["emissions"], p["tags"], p["transitions"], cost=2.0, **_keywords(p))
        for b in range(len(best)):
            n = int(p["mask"][b].sum())
            if losses[b] <= 0:
                continue
            expected = np.zeros((n, 3))
            expected[np.arange(n), best[b, :n]] += 1
            expected[np.arange(n), p["tags"][b, :n]] -= 1
            np.testing.assert_allclose(grad[b, :n], expected, atol=1e-6)
            np.testing.assert_allclose(grad[b, n:], 0)


class TestIdentities:
    def test_probabilities_of_all_sequences_sum_to_one(self):
        steps, tags = 3, 3
        p = _problem(7, 1, steps, tags)
        sequences = np.array(list(itertools.product(range(tags), repeat=steps)))
        count = len(sequences)
        emissions = np.repeat(p["emissions"], count, axis=0)
        ll = crf.log_likelihood(
            emissions, sequences, p["transitions"],
            start_transitions=p["start_transitions"], end_transitions=p["end_transitions"],
        )
        np.testing.assert_allclose(np.sum(np.exp(numpy(ll).astype(np.float64))), 1.0, rtol=1e-5)

    def test_marginals_sum_to_one_at_real_steps(self):
        p = _problem(8, 16, 12, 5, scale=3.0)
        m = numpy(crf.marginals(p["emissions"], p["transitions"], **_keywords(p)))
        np.testing.assert_allclose(m.sum(-1), p["mask"].astype(float), atol=1e-5)
        assert np.all(m[~p["mask"]] == 0)

    @pytest.mark.parametrize("mode", backends.modes())
    def test_gradient_of_log_partition_is_the_marginals(self, mode):
        p = _problem(9, 8, 10, 4)
        emissions = keras.ops.convert_to_tensor(p["emissions"])
        _, grad = harness.value_and_grad(
            lambda e: crf.log_partition(e, p["transitions"], **_keywords(p)), emissions, mode=mode
        )
        marginals = numpy(crf.marginals(p["emissions"], p["transitions"], **_keywords(p)))
        np.testing.assert_allclose(grad, marginals, atol=2e-6)

    def test_tags_at_masked_steps_are_ignored(self):
        p = _problem(10, 6, 5, 3)
        other = np.where(p["mask"], p["tags"], 99)
        for fn in (crf.sequence_score, crf.log_likelihood, crf.structured_hinge):
            np.testing.assert_array_equal(
                numpy(fn(p["emissions"], p["tags"], p["transitions"], **_keywords(p))),
                numpy(fn(p["emissions"], other, p["transitions"], **_keywords(p))),
            )

    def test_no_mask_means_every_step(self):
        p = _problem(11, 4, 5, 3, lengths=[5, 5, 5, 5])
        keywords = {k: p[k] for k in ("start_transitions", "end_transitions")}
        np.testing.assert_array_equal(
            numpy(crf.log_partition(p["emissions"], p["transitions"], **keywords)),
            numpy(crf.log_partition(p["emissions"], p["transitions"], mask=p["mask"], **keywords)),
        )

    def test_structured_hinge_is_zero_when_the_gold_sequence_wins_by_the_cost(self):
        # One-hot emissions of height 5 on the gold tags, no transitions: every wrong
        # tag loses 5 and gains the cost 1, so the gold sequence wins by 4 per wrong tag.
        tags = np.array([[0, 2, 1, 1]])
        emissions = 5.0 * np.eye(3)[tags].astype("float32")
        loss = crf.structured_hinge(emissions, tags, np.zeros((3, 3), "float32"), cost=1.0)
        assert float(numpy(loss)[0]) == 0.0
        # With a cost of 6 each wrong tag gains 6 - 5 = 1: all four wrong, loss 4.
        loss = crf.structured_hinge(emissions, tags, np.zeros((3, 3), "float32"), cost=6.0)
        np.testing.assert_allclose(numpy(loss), [4.0], rtol=1e-6)


def _torchcrf(p):
    torch = pytest.importorskip("torch")
    torchcrf = pytest.importorskip("torchcrf")
    num_tags = p["emissions"].shape[-1]
    model = torchcrf.CRF(num_tags, batch_first=True)
    with torch.no_grad():
        model.transitions.copy_(torch.as_tensor(p["transitions"]))
        model.start_transitions.copy_(torch.as_tensor(p["start_transitions"]))
        model.end_transitions.copy_(torch.as_tensor(p["end_transitions"]))
    return torch, model


class TestAgainstPytorchCRF:
    """pytorch-crf 0.7: `forward` is the log-likelihood, `decode` the Viterbi path.
    It needs the first step of every row real, so lengths start at 1 here."""

    def problem(self):
        return _problem(12, 16, 20, 6, lengths=np.r_[1, 20, np.random.default_rng(0).integers(1, 21, 14)], scale=2.0)

    def test_log_likelihood_values_and_gradients(self):
        p = self.problem()
        torch, model = _torchcrf(p)
        emissions = torch.as_tensor(p["emissions"]).requires_grad_(True)
        tags = torch.as_tensor(np.where(p["mask"], p["tags"], 0)).long()
        expected = model(emissions, tags, mask=torch.as_tensor(p["mask"]).to(torch.uint8), reduction="none")
        expected.sum().backward()
        expected_grads = {
            "emissions": emissions.grad.numpy(),
            "transitions": model.transitions.grad.numpy(),
            "start_transitions": model.start_transitions.grad.numpy(),
            "end_transitions": model.end_transitions.grad.numpy(),
        }
        tensors = {k: keras.ops.convert_to_tensor(p[k]) for k in expected_grads}
        for wrt, expected_grad in expected_grads.items():
            def fn(x, wrt=wrt):
                args = {**tensors, wrt: x}
                return crf.log_likelihood(
                    args["emissions"], p["tags"], args["transitions"], mask=p["mask"],
                    start_transitions=args["start_transitions"], end_transitions=args["end_transitions"],
                )

            value, grad = harness.value_and_grad(fn, tensors[wrt])
            np.testing.assert_allclose(value, expected.detach().numpy(), rtol=1e-5, atol=1e-4)
            np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-5, err_msg=wrt)

    def test_viterbi_decode(self):
        p = self.problem()
        torch, model = _torchcrf(p)
        expected = model.decode(torch.as_tensor(p["emissions"]), mask=torch.as_tensor(p["mask"]).to(torch.uint8))
        tags, _ = crf.viterbi_decode(p["emissions"], p["transitions"], **_keywords(p))
        tags = numpy(tags)
        for b, path in enumerate(expected):
            assert tags[b, : len(path)].tolist() == path
            assert np.all(tags[b, len(path):] == -1)


class TestBadInput:
    p = _problem(13, 3, 4, 3, lengths=[4, 2, 0])

    def call(self, fn="log_likelihood", **changes):
        p = {**self.p, **changes}
        if fn in ("log_likelihood", "sequence_score", "structured_hinge"):
            return getattr(crf, fn)(p["emissions"], p["tags"], p["transitions"], **_keywords(p))
        return getattr(crf, fn)(p["emissions"], p["transitions"], **_keywords(p))

    def test_tags_out_of_range(self):
        tags = self.p["tags"].copy()
        tags[1, 1] = 3
        for fn in ("log_likelihood", "sequence_score", "structured_hinge"):
            with pytest.raises(ValueError, match="argument `tags`"):
                self.call(fn, tags=tags)

    def test_mask_not_left_aligned(self):
        mask = self.p["mask"].copy()
        mask[1, 3] = True  # real, real, masked, real
        for fn in ("log_likelihood", "log_partition", "viterbi_decode", "marginals", "structured_hinge"):
            with pytest.raises(ValueError, match="argument `mask`"):
                self.call(fn, mask=mask)

    @pytest.mark.parametrize(
        "argument,value",
        [
            ("tags", np.zeros((3, 5), "int32")),
            ("transitions", np.zeros((3, 4), "float32")),
            ("start_transitions", np.zeros(4, "float32")),
            ("end_transitions", np.zeros((3, 1), "float32")),
            ("mask", np.ones((3, 3), bool)),
            ("emissions", np.zeros((3, 4), "float32")),
        ],
    )
    def test_shape_mismatch_names_the_argument(self, argument, value):
        with pytest.raises(ValueError, match=f"argument `{argument}`"):
            self.call(**{argument: value})

    def test_negative_cost(self):
        with pytest.raises(ValueError, match="argument `cost`"):
            crf.structured_hinge(self.p["emissions"], self.p["tags"], self.p["transitions"], cost=-1.0)

    def test_cost_is_keyword_only(self):
        with pytest.raises(TypeError):
            crf.structured_hinge(self.p["emissions"], self.p["tags"], self.p["transitions"], None, None, None, 1.0)

    @pytest.mark.parametrize("mode", [m for m in backends.modes() if m != "eager"])
    def test_compiled_bad_rows_are_nan(self, mode):
        tags = self.p["tags"].copy()
        tags[0, 2] = 7  # out of range at a real step of row 0
        mask = self.p["mask"].copy()
        mask[1, 3] = True  # row 1 not left-aligned
        values = harness.run_in_mode(
            lambda e, t, m: crf.log_likelihood(e, t, self.p["transitions"], mask=m),
            mode, self.p["emissions"], tags, mask,
        )
        assert np.isnan(values[0]) and np.isnan(values[1]) and values[2] == 0


class TestExtremes:
    @pytest.mark.parametrize("scale", [1e4, -1e4])
    def test_huge_emissions_are_finite(self, scale):
        p = _problem(14, 4, 6, 3, lengths=[6, 3, 1, 0])
        emissions = keras.ops.convert_to_tensor(np.sign(p["emissions"]) * scale)
        for fn in (
            lambda e: crf.log_likelihood(e, p["tags"], p["transitions"], **_keywords(p)),
            lambda e: crf.structured_hinge(e, p["tags"], p["transitions"], **_keywords(p)),
            lambda e: crf.marginals(e, p["transitions"], **_keywords(p)),
        ):
            value, grad = harness.value_and_grad(fn, emissions)
            assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
        m = numpy(crf.marginals(emissions, p["transitions"], **_keywords(p)))
        np.testing.assert_allclose(m.sum(-1), p["mask"].astype(float), atol=1e-6)

    @pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
    def test_16_bit_emissions_are_computed_in_float32(self, dtype):
        p = _problem(15, 4, 6, 3, lengths=[6, 3, 1, 0], scale=30.0)
        emissions = keras.ops.cast(keras.ops.convert_to_tensor(p["emissions"]), dtype)
        seen = numpy(keras.ops.cast(emissions, "float32")).astype(np.float64)
        ll = crf.log_likelihood(emissions, p["tags"], p["transitions"], **_keywords(p))
        assert str(numpy(ll).dtype) == "float32"
        np.testing.assert_allclose(
            numpy(ll), brute.log_likelihood(seen, p["tags"], p["transitions"], **_keywords(p)), rtol=1e-5, atol=1e-3
        )
        value, grad = harness.value_and_grad(
            lambda e: crf.log_likelihood(e, p["tags"], p["transitions"], **_keywords(p)), emissions
        )
        assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))

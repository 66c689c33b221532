from tests import harness

test_reference_equality = harness.reference_equality_test("linear_cross_entropy")

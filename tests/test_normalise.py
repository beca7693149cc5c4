import numpy as np
import pytest

from classifier.normalise import n_pairs, normalise

COUNTS = np.array([[1, 2], [0, 3]])


def test_mahabal_is_255_times_count_over_all_pairs():
    image = normalise(COUNTS, 4, "mahabal")  # p = 6, not the 6 binned pairs by coincidence
    np.testing.assert_allclose(image, 255 * COUNTS / 6)
    assert image.dtype == np.float32
    # Pairs outside the grid still count in p: 5 points -> p = 10.
    np.testing.assert_allclose(normalise(COUNTS, 5), 255 * COUNTS / 10)


def test_mahabal_uint8_rounds_up_so_any_occupied_bin_shows():
    image = normalise(np.array([[1, 0], [0, 0]]), 1000, "mahabal-uint8")  # 255/499500
    assert image.dtype == np.uint8
    assert image.tolist() == [[1, 0], [0, 0]]
    assert normalise(np.array([[6, 0], [0, 0]]), 4, "mahabal-uint8").max() == 255


def test_l2_has_unit_norm():
    image = normalise(COUNTS, 4, "l2")
    assert np.linalg.norm(image) == pytest.approx(1.0)


def test_empty_counts_give_a_zero_image():
    for method in ("mahabal", "mahabal-uint8", "l2"):
        assert not normalise(np.zeros((2, 2), int), 1, method).any()


def test_stack_with_one_point_count_per_curve():
    stack = np.stack([COUNTS, 2 * COUNTS])
    images = normalise(stack, np.array([4, 5]))
    np.testing.assert_allclose(images[0], 255 * COUNTS / 6)
    np.testing.assert_allclose(images[1], 255 * 2 * COUNTS / 10)
    with pytest.raises(ValueError, match="3 values for 2"):
        normalise(stack, np.array([4, 5, 6]))


def test_bad_method_and_shape():
    with pytest.raises(ValueError, match="unknown normalisation 'max'"):
        normalise(COUNTS, 4, "max")
    with pytest.raises(ValueError, match="2-D or 3-D"):
        normalise(np.zeros(3), 4)


def test_n_pairs():
    assert n_pairs(0) == 0 and n_pairs(1) == 0 and n_pairs(1000) == 499500
    assert n_pairs(np.array([2, 3])).tolist() == [1, 3]

import pytest
import torch

from snippets.common.checks import check_choice, check_dim, check_positive, check_tensor


def test_check_tensor_accepts_and_returns():
    x = torch.zeros(2, 3)
    assert check_tensor(x, "x", ndim=2, dtype=torch.float32, floating=True) is x


def test_check_tensor_errors_name_the_argument():
    with pytest.raises(TypeError, match="images must be a torch.Tensor, got list"):
        check_tensor([1, 2], "images")
    with pytest.raises(ValueError, match=r"x must have 3 dimensions, got 2 \(shape \(2, 3\)\)"):
        check_tensor(torch.zeros(2, 3), "x", ndim=3)
    with pytest.raises(ValueError, match="3 or 4 dimensions"):
        check_tensor(torch.zeros(2), "x", ndim=(3, 4))
    with pytest.raises(TypeError, match="labels must have dtype torch.int64, got torch.float32"):
        check_tensor(torch.zeros(2), "labels", dtype=torch.int64)
    with pytest.raises(TypeError, match="floating-point"):
        check_tensor(torch.zeros(2, dtype=torch.int64), "x", floating=True)


def test_check_dim():
    check_dim(torch.zeros(2, 5), "x", 1, 5)
    with pytest.raises(ValueError, match="x must have size 4 in dimension 1, got 5"):
        check_dim(torch.zeros(2, 5), "x", 1, 4)


def test_check_positive():
    check_positive(1, "n")
    check_positive(0.0, "noise", allow_zero=True)
    with pytest.raises(ValueError, match="n must be > 0, got 0"):
        check_positive(0, "n")
    with pytest.raises(ValueError, match="noise must be >= 0"):
        check_positive(-0.1, "noise", allow_zero=True)
    with pytest.raises(TypeError, match="lr must be a number"):
        check_positive("0.1", "lr")
    for allow_zero in (False, True):
        with pytest.raises(ValueError, match="lr must be a number, got nan"):
            check_positive(float("nan"), "lr", allow_zero=allow_zero)


def test_check_choice():
    check_choice("pre", "norm", ("pre", "post"))
    with pytest.raises(ValueError, match=r"norm must be one of \('pre', 'post'\), got 'mid'"):
        check_choice("mid", "norm", ("pre", "post"))


def test_one_dimension_is_singular():
    with pytest.raises(ValueError, match=r"^x must have 1 dimension, got 2"):
        check_tensor(torch.zeros(2, 3), "x", ndim=1)

import random

import numpy as np
import pytest
import torch

from snippets.common.seed import seed_everything


def _draw():
    return random.random(), np.random.rand(), torch.rand(1).item()


def test_same_seed_same_numbers():
    seed_everything(123)
    first = _draw()
    seed_everything(123)
    assert _draw() == first


def test_returned_generator_is_seeded():
    a = torch.rand(3, generator=seed_everything(5))
    b = torch.rand(3, generator=seed_everything(5))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("bad, error", [(1.5, TypeError), (True, TypeError), (-1, ValueError)])
def test_bad_seed(bad, error):
    with pytest.raises(error, match="seed"):
        seed_everything(bad)

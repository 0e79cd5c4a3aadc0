import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.neural_networks.optimizers import (
    SGD,
    Adam,
    RMSProp,
    make_optimizer,
    optimize_path,
    rosenbrock,
)

CASES = [
    (lambda p: SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (
        lambda p: SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.01),
    ),
    (
        lambda p: RMSProp(p, lr=0.01, alpha=0.9),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8),
    ),
    (lambda p: Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    (
        lambda p: Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
    ),
    (
        lambda p: Adam(p, lr=0.01, weight_decay=0.1, decoupled=True),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    ),
]


def _loss(params, x, y):
    w1, b1, w2 = params
    return ((torch.tanh(x @ w1 + b1) @ w2 - y) ** 2).mean()


@pytest.mark.parametrize("ours, theirs", CASES)
def test_matches_torch_optim_step_for_step(ours, theirs):
    generator = torch.Generator().manual_seed(0)
    init = [torch.randn(3, 5, generator=generator, dtype=torch.float64) for _ in range(1)]
    init += [torch.randn(5, generator=generator, dtype=torch.float64)]
    init += [torch.randn(5, 1, generator=generator, dtype=torch.float64)]
    a = [t.clone().requires_grad_(True) for t in init]
    b = [t.clone().requires_grad_(True) for t in init]
    opt_a, opt_b = ours(a), theirs(b)
    for step in range(25):
        x = torch.randn(16, 3, generator=generator, dtype=torch.float64)
        y = torch.randn(16, 1, generator=generator, dtype=torch.float64)
        for params, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            _loss(params, x, y).backward()
            opt.step()
        for p, q in zip(a, b):
            torch.testing.assert_close(p, q, msg=f"parameters differ after step {step + 1}")


@settings(max_examples=25, deadline=None)
@given(
    case=st.integers(0, len(CASES) - 1),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    shapes=st.lists(
        st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple), min_size=1, max_size=3
    ),
    has_grad=st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=1, max_size=6),
    seed=st.integers(0, 1000),
)
def test_state_per_parameter_like_torch(case, dtype, shapes, has_grad, seed):
    """Any shapes (0-sized and scalars too), both dtypes, and parameters that get
    no gradient on some steps: every parameter must follow torch.optim exactly."""
    ours, theirs = CASES[case]
    generator = torch.Generator().manual_seed(seed)
    init = [torch.randn(s, generator=generator, dtype=dtype) for s in shapes]
    a = [t.clone().requires_grad_(True) for t in init]
    b = [t.clone().requires_grad_(True) for t in init]
    opt_a, opt_b = ours(a), theirs(b)
    for mask in has_grad:
        grads = [torch.randn(s, generator=generator, dtype=dtype) for s in shapes]
        for params, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            for p, g, keep in zip(params, grads, mask):
                p.grad = g.clone() if keep else None
            opt.step()
    for p, q in zip(a, b):
        assert p.dtype == dtype
        torch.testing.assert_close(p, q)


def test_zero_grad_and_missing_gradients():
    p = torch.ones(2, requires_grad=True)
    q = torch.ones(2, requires_grad=True)
    opt = SGD([p, q], lr=1.0)
    (p.sum() * 3).backward()
    opt.step()  # q has no gradient: left alone
    torch.testing.assert_close(p.detach(), torch.full((2,), -2.0))
    torch.testing.assert_close(q.detach(), torch.ones(2))
    opt.zero_grad()
    assert p.grad is None


def test_rosenbrock_minimum_and_adam_path():
    assert rosenbrock(torch.tensor([1.0, 1.0])).item() == 0.0
    assert rosenbrock(torch.zeros(4, 2)).shape == (4,)
    path, losses = optimize_path("adam", (-1.5, 2.0), lr=0.1, steps=1000)
    assert path.shape == (1001, 2) and len(losses) == 1001
    torch.testing.assert_close(path[0], torch.tensor([-1.5, 2.0], dtype=torch.float64))
    # it ends near the known minimum (1, 1)
    torch.testing.assert_close(path[-1], torch.ones(2, dtype=torch.float64), atol=0.02, rtol=0)
    assert losses[-1] < 1e-3


def test_bad_input():
    with pytest.raises(ValueError, match="at least one tensor"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[0\] must be a tensor with requires_grad"):
        SGD([torch.zeros(2)], lr=0.1)
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="lr must be > 0"):
        Adam(p, lr=-1.0)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        SGD(p, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\)"):
        Adam(p, betas=(0.9, 1.5))
    with pytest.raises(ValueError, match="eps must be > 0"):
        RMSProp(p, eps=0.0)
    with pytest.raises(ValueError, match="name must be one of"):
        make_optimizer("adagrad", p, 0.1)
    with pytest.raises(ValueError, match=r"xy must be a tensor of shape \[..., 2\]"):
        rosenbrock(torch.zeros(3))
    with pytest.raises(ValueError, match="steps must be > 0"):
        optimize_path("sgd", (0.0, 0.0), 0.1, 0)


def test_fit_trains_with_a_scratch_optimizer_like_torch_optim():
    """The gallery trains with these classes through ``fit``: same weights as torch.optim."""
    from torch import nn

    from snippets.common.data import make_loader
    from snippets.common.train import fit

    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 3, generator=g), torch.randint(0, 2, (64,), generator=g)
    batches = list(make_loader(x, y, batch_size=16, shuffle=False))
    models = []
    for make in (
        lambda p: SGD(p, lr=0.1, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
    ):
        torch.manual_seed(1)
        model = nn.Linear(3, 2)
        history = fit(model, batches, nn.CrossEntropyLoss(), make(model.parameters()), epochs=2)
        assert history.learning_rate == [0.1] * 8
        models.append(model)
    torch.testing.assert_close(models[0].weight, models[1].weight)
    torch.testing.assert_close(models[0].bias, models[1].bias)

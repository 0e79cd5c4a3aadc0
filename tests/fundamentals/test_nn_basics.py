import pytest
import torch
from torch import nn

from snippets.fundamentals.nn_basics import TinyNet, count_parameters, loss_examples, make_mlp


def test_tiny_net_registers_parameters_and_matches_functional():
    net = TinyNet(4, 8, 3)
    assert count_parameters(net) == 4 * 8 + 8 + 8 * 3 + 3
    x = torch.randn(5, 4)
    h = torch.relu(x @ net.hidden.weight.T + net.hidden.bias)
    torch.testing.assert_close(net(x), h @ net.output.weight.T + net.output.bias)


def test_tiny_net_bad_input():
    net = TinyNet(4, 8, 3)
    with pytest.raises(ValueError, match="x must have 4 features, got 5"):
        net(torch.randn(2, 5))
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        net(torch.randn(4))


@pytest.mark.parametrize("sizes", [[64, 10], [64, 32, 10], [8, 16, 16, 2]])
def test_make_mlp_parameter_count(sizes):
    model = make_mlp(sizes)
    expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    assert count_parameters(model) == expected
    assert model(torch.randn(3, sizes[0])).shape == (3, sizes[-1])


def test_make_mlp_flattens_images():
    assert make_mlp([64, 10])(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_dropout_and_batchnorm_depend_on_mode():
    torch.manual_seed(0)
    model = make_mlp([16, 32, 4], dropout=0.5, batch_norm=True)
    assert any(isinstance(m, nn.Dropout) for m in model)
    assert any(isinstance(m, nn.BatchNorm1d) for m in model)
    x = torch.randn(8, 16)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    # in eval mode a single sample gives the same output as inside a batch
    torch.testing.assert_close(model(x[:1]), model(x)[:1])


def test_count_parameters_trainable_only():
    model = make_mlp([4, 2])
    model[1].bias.requires_grad_(False)
    assert count_parameters(model) == 8
    assert count_parameters(model, trainable_only=False) == 10


@pytest.mark.parametrize(
    "sizes, dropout, message",
    [
        ([10], 0.0, "at least input and output"),
        ([4, 0, 2], 0.0, "positive"),
        ([4, 2], 1.0, "dropout"),
    ],
)
def test_make_mlp_bad_input(sizes, dropout, message):
    with pytest.raises(ValueError, match=message):
        make_mlp(sizes, dropout=dropout)


def test_loss_examples_agree_with_definitions():
    logits = torch.randn(6, 4)
    targets = torch.tensor([0, 3, 1, 1, 2, 0])
    losses = loss_examples(logits, targets)
    torch.testing.assert_close(losses["CrossEntropyLoss"], losses["NLLLoss(log_softmax)"])
    by_hand = -torch.log_softmax(logits, 1)[torch.arange(6), targets].mean()
    torch.testing.assert_close(losses["CrossEntropyLoss"], by_hand)
    one_hot = torch.eye(4)[targets]
    torch.testing.assert_close(
        losses["MSELoss(softmax, one-hot)"], ((torch.softmax(logits, 1) - one_hot) ** 2).mean()
    )


def test_loss_examples_bad_input():
    with pytest.raises(TypeError, match="targets must have dtype torch.int64"):
        loss_examples(torch.randn(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="logits must have 2 dimensions"):
        loss_examples(torch.randn(3), torch.tensor([0]))

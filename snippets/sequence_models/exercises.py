"""Coding exercises of the sequence-models chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import torch

from snippets.common.exercises import Case, exercise

# --- sequence-models/rnn


def _last_output_cases():
    g = torch.Generator().manual_seed(11)
    for n, t, h in [(4, 6, 3), (1, 1, 2), (3, 5, 1), (0, 4, 3), (5, 7, 4)]:
        outputs = torch.randn(n, t, h, generator=g, dtype=torch.float64)
        lengths = torch.randint(1, t + 1, (n,), generator=g)
        if n:
            lengths[0] = t  # one sequence uses every step, one uses only the first
            lengths[-1] = 1
        yield Case((outputs, lengths), label=f"N={n}, T={t}, H={h}")


def _wrong_last_step(outputs, lengths):
    return outputs[:, -1]  # the last step is padding for the shorter sequences


def _wrong_off_by_one(outputs, lengths):
    return outputs[torch.arange(len(outputs)), lengths]  # lengths counts steps, not an index


@exercise(
    "last-real-output",
    page="sequence-models/rnn",
    task="Given batch-first RNN outputs [N, T, H] of right-padded sequences and their lengths [N] "
    "(each 1..T), return the output at each sequence's last real step, [N, H].",
    cases=_last_output_cases,
    wrong=[_wrong_last_step, _wrong_off_by_one],
)
def last_real_output(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Pick step ``length − 1`` of every row: the state after the last real token."""
    rows = torch.arange(outputs.shape[0], device=outputs.device)
    return outputs[rows, lengths.to(outputs.device) - 1]


# --- sequence-models/gradients


def _jacobian_cases():
    g = torch.Generator().manual_seed(12)
    for n, i, h in [(2, 3, 4), (1, 1, 1), (3, 5, 2), (1, 2, 7)]:
        x = torch.randn(n, i, generator=g, dtype=torch.float64)
        h_prev = torch.randn(n, h, generator=g, dtype=torch.float64)
        w_ih = torch.randn(h, i, generator=g, dtype=torch.float64)
        w_hh = torch.randn(h, h, generator=g, dtype=torch.float64)
        b_ih, b_hh = torch.randn(2, h, generator=g, dtype=torch.float64)
        yield Case((x, h_prev, w_ih, w_hh, b_ih, b_hh), label=f"N={n}, I={i}, H={h}")


def _wrong_no_tanh_derivative(x, h_prev, w_ih, w_hh, b_ih, b_hh):
    return w_hh.expand(len(x), *w_hh.shape).clone()  # forgets the tanh in the chain rule


def _wrong_columns(x, h_prev, w_ih, w_hh, b_ih, b_hh):
    h = torch.tanh(x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)
    return (1 - h**2)[:, None, :] * w_hh  # scales the columns instead of the rows


def _wrong_state(x, h_prev, w_ih, w_hh, b_ih, b_hh):
    return (1 - h_prev**2)[:, :, None] * w_hh  # the derivative at the old state, not the new one


@exercise(
    "rnn-step-jacobian",
    page="sequence-models/gradients",
    task="For h_t = tanh(W_ih x + b_ih + W_hh h_{t-1} + b_hh) on a batch, return the Jacobians "
    "∂h_t/∂h_{t-1} [N, H, H] (entry [n, i, j] = ∂h_t[n, i]/∂h_{t-1}[n, j]), without autograd.",
    cases=_jacobian_cases,
    wrong=[_wrong_no_tanh_derivative, _wrong_columns, _wrong_state],
)
def rnn_step_jacobian(
    x: torch.Tensor,
    h_prev: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> torch.Tensor:
    """``diag(1 − h_t²) W_hh``: tanh's slope at the new state scales each row of ``W_hh``."""
    h = torch.tanh(x @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)  # [N, H]
    return (1 - h**2)[:, :, None] * w_hh  # [N, H, H]


def _clip_cases():
    g = torch.Generator().manual_seed(13)
    shapes = [[(3, 4), (4,)], [(5,)], [(2, 2), (0,), (3,)], [(6, 3), (3,), (1,)]]
    for shapes_, scale, max_norm in zip(shapes, [10.0, 0.1, 3.0, 1.0], [1.0, 5.0, 0.5, 100.0]):
        grads = [scale * torch.randn(s, generator=g, dtype=torch.float64) for s in shapes_]
        yield Case((grads, max_norm), label=f"{len(grads)} tensors, max_norm={max_norm}")


def _wrong_per_tensor(grads, max_norm):
    out = []
    for grad in grads:  # clips each tensor on its own: the direction changes
        coef = min(1.0, max_norm / (float(grad.norm()) + 1e-6))
        out.append(grad * coef)
    return out


def _wrong_always_scales(grads, max_norm):
    total = torch.cat([grad.flatten() for grad in grads]).norm()
    return [grad * max_norm / (total + 1e-6) for grad in grads]  # also blows up small gradients


@exercise(
    "clip-by-global-norm",
    page="sequence-models/gradients",
    task="Return the gradients [list of tensors] rescaled as clip_grad_norm_ does: all by the same "
    "factor max_norm / (total norm + 1e-6) when the total L2 norm exceeds max_norm, "
    "else unchanged.",
    cases=_clip_cases,
    wrong=[_wrong_per_tensor, _wrong_always_scales],
)
def clip_by_global_norm(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """One norm over all parameters; one factor, at most 1, for all: the direction is kept."""
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    return [grad * coef for grad in grads]


# --- sequence-models/lstm


def _count_cases():
    sizes = [
        (10, 20, 1, False),
        (1, 1, 1, False),
        (8, 16, 2, False),
        (5, 3, 3, True),
        (7, 4, 1, True),
    ]
    for input_size, hidden, layers, bidirectional in sizes:
        yield Case(
            (input_size, hidden, layers, bidirectional),
            label=f"I={input_size}, H={hidden}, layers={layers}, bidirectional={bidirectional}",
        )


def _wrong_one_bias(input_size, hidden_size, num_layers, bidirectional):
    d = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        inputs = input_size if layer == 0 else d * hidden_size
        total += d * (4 * hidden_size * (inputs + hidden_size) + 4 * hidden_size)  # one bias
    return total


def _wrong_layer_inputs(input_size, hidden_size, num_layers, bidirectional):
    d = 2 if bidirectional else 1
    # every layer reads input_size features; the upper ones read the states below
    return num_layers * d * (4 * hidden_size * (input_size + hidden_size) + 8 * hidden_size)


@exercise(
    "lstm-parameter-count",
    page="sequence-models/lstm",
    task="The number of parameters of nn.LSTM(input_size, hidden_size, num_layers, "
    "bidirectional=...) with its default biases, computed without building it.",
    cases=_count_cases,
    wrong=[_wrong_one_bias, _wrong_layer_inputs],
)
def lstm_parameter_count(
    input_size: int, hidden_size: int, num_layers: int, bidirectional: bool
) -> int:
    """Per layer and direction: ``4H·(inputs + H)`` weights and two biases of ``4H``."""
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(num_layers):
        inputs = input_size if layer == 0 else directions * hidden_size  # states of the layer below
        total += directions * (4 * hidden_size * (inputs + hidden_size) + 2 * 4 * hidden_size)
    return total


# --- sequence-models/gru


def _gru_cases():
    g = torch.Generator().manual_seed(14)
    for n, i, h, dtype in [
        (2, 3, 4, torch.float32),
        (1, 1, 1, torch.float64),
        (3, 5, 2, torch.float64),
        (0, 2, 3, torch.float32),
        (4, 2, 5, torch.float64),
    ]:
        x = torch.randn(n, i, generator=g, dtype=dtype)
        h0 = torch.randn(n, h, generator=g, dtype=dtype)
        w_ih = torch.randn(3 * h, i, generator=g, dtype=dtype)
        w_hh = torch.randn(3 * h, h, generator=g, dtype=dtype)
        b_ih, b_hh = torch.randn(2, 3 * h, generator=g, dtype=dtype)
        yield Case((x, h0, w_ih, w_hh, b_ih, b_hh), label=f"N={n}, I={i}, H={h}, {dtype}")


def _wrong_pytorch_form(x, h, w_ih, w_hh, b_ih, b_hh):
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)  # PyTorch's form: the reset gate after the product
    return (1 - z) * n + z * h


def _wrong_mix(x, h, w_ih, w_hh, b_ih, b_hh):
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    h_r, h_z, _ = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    w_hn, b_hn = w_hh.chunk(3)[2], b_hh.chunk(3)[2]
    n = torch.tanh(x_n + (r * h) @ w_hn.T + b_hn)
    return z * n + (1 - z) * h  # the other paper's convention for z


@exercise(
    "gru-cell-reset-before",
    page="sequence-models/gru",
    task="One GRU step in PyTorch's weight layout (r, z, n blocks) and update convention, but with "
    "the original paper's candidate n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn).",
    cases=_gru_cases,
    wrong=[_wrong_pytorch_form, _wrong_mix],
)
def gru_cell_reset_before(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> torch.Tensor:
    """The reset gate scales the old state *before* ``W_hn`` multiplies it: a product of its own."""
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    w_hr, w_hz, w_hn = w_hh.chunk(3)  # [H, H] each
    b_hr, b_hz, b_hn = b_hh.chunk(3)
    r = torch.sigmoid(x_r + h @ w_hr.T + b_hr)
    z = torch.sigmoid(x_z + h @ w_hz.T + b_hz)
    n = torch.tanh(x_n + (r * h) @ w_hn.T + b_hn)
    return (1 - z) * n + z * h


# --- sequence-models/char-lm


def _top_k_cases():
    g = torch.Generator().manual_seed(15)
    for shape, k, temperature in [
        ((2, 6), 3, 1.0),
        ((1, 5), 1, 0.5),
        ((4, 7), 7, 2.0),
        ((3, 2, 9), 4, 0.8),
        ((1, 1), 1, 1.0),
    ]:
        logits = 2 * torch.randn(shape, generator=g, dtype=torch.float64)
        yield Case((logits, k, temperature), label=f"logits {list(shape)}, k={k}, T={temperature}")


def _wrong_no_renormalize(logits, k, temperature):
    probs = torch.softmax(logits / temperature, dim=-1)
    kept = probs.topk(k, dim=-1).indices
    return torch.zeros_like(probs).scatter(-1, kept, probs.gather(-1, kept))  # no longer sums to 1


def _wrong_zero_logits(logits, k, temperature):
    threshold = logits.topk(k, dim=-1).values[..., -1:]
    masked = logits.masked_fill(logits < threshold, 0.0)  # a logit of 0 still has probability
    return torch.softmax(masked / temperature, dim=-1)


@exercise(
    "top-k-probs",
    page="sequence-models/char-lm",
    task="The sampling distribution softmax(logits / temperature) over the last dimension "
    "restricted to the k largest logits: zero elsewhere, the kept ones renormalized to sum to 1.",
    cases=_top_k_cases,
    wrong=[_wrong_no_renormalize, _wrong_zero_logits],
)
def top_k_probs(logits: torch.Tensor, k: int, temperature: float) -> torch.Tensor:
    """Set every logit below the k-th largest to −∞, then apply the temperature softmax."""
    threshold = logits.topk(k, dim=-1).values[..., -1:]  # the k-th largest of each row
    masked = logits.masked_fill(logits < threshold, float("-inf"))
    return torch.softmax(masked / temperature, dim=-1)


# --- sequence-models/seq2seq


def _additive_cases():
    g = torch.Generator().manual_seed(16)
    for n, s, hq, hm, a in [(2, 5, 3, 4, 6), (1, 1, 2, 2, 1), (3, 4, 5, 3, 2), (4, 7, 2, 6, 3)]:
        query = torch.randn(n, hq, generator=g, dtype=torch.float64)
        memory = torch.randn(n, s, hm, generator=g, dtype=torch.float64)
        lengths = torch.randint(1, s + 1, (n,), generator=g)
        mask = torch.arange(s)[None, :] < lengths[:, None]  # True at real source tokens
        w_q = torch.randn(a, hq, generator=g, dtype=torch.float64)
        w_m = torch.randn(a, hm, generator=g, dtype=torch.float64)
        v = torch.randn(a, generator=g, dtype=torch.float64)
        yield Case(
            (query, memory, mask, w_q, w_m, v), label=f"N={n}, S={s}, Hq={hq}, Hm={hm}, A={a}"
        )


def _wrong_no_mask(query, memory, mask, w_q, w_m, v):
    scores = torch.tanh((query @ w_q.T)[:, None, :] + memory @ w_m.T) @ v
    weights = scores.softmax(dim=-1)  # padding gets weight too
    return (weights[:, None, :] @ memory).squeeze(1), weights


def _wrong_batch_softmax(query, memory, mask, w_q, w_m, v):
    scores = torch.tanh((query @ w_q.T)[:, None, :] + memory @ w_m.T) @ v
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=0)  # over the batch
    return (weights[:, None, :] @ memory).squeeze(1), weights.nan_to_num()


@exercise(
    "additive-attention",
    page="sequence-models/seq2seq",
    task="Bahdanau's additive attention for one decoder state query [N, Hq] over memory [N, S, Hm] "
    "with mask [N, S] (True at real tokens): weights = softmax_j(vᵀ tanh(W_q q + W_m m_j)), "
    "zero on padding; return (context [N, Hm], weights [N, S]).",
    cases=_additive_cases,
    wrong=[_wrong_no_mask, _wrong_batch_softmax],
)
def additive_attention(
    query: torch.Tensor,
    memory: torch.Tensor,
    mask: torch.Tensor,
    w_q: torch.Tensor,
    w_m: torch.Tensor,
    v: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A one-hidden-layer network scores each source position; a masked softmax over the source."""
    hidden = torch.tanh((query @ w_q.T)[:, None, :] + memory @ w_m.T)  # [N, S, A]
    scores = (hidden @ v).masked_fill(~mask, float("-inf"))  # [N, S]
    weights = scores.softmax(dim=-1)
    context = (weights[:, None, :] @ memory).squeeze(1)  # [N, Hm]
    return context, weights

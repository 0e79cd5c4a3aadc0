"""Generative adversarial networks: a generator and a discriminator in a game.

The generator maps random noise ``z`` to samples; the discriminator scores
samples as real or generated. Both are trained in turns. Two losses are here:
the original GAN loss (binary cross-entropy, with the non-saturating
generator loss) and the Wasserstein loss with a gradient penalty (WGAN-GP).
Passing ``num_classes`` makes both networks *conditional*: they also receive
the class label, so the generator can be asked for a given class.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from snippets.common.checks import check_choice, check_positive, check_tensor
from snippets.common.data import make_loader
from snippets.common.train import fit
from snippets.fundamentals.nn_basics import make_mlp


def _with_labels(x: torch.Tensor, labels: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """Append a one-hot label to every row of ``x`` (conditional models only)."""
    if num_classes == 0:
        if labels is not None:
            raise ValueError("labels were given to an unconditional model (num_classes=0)")
        return x
    if labels is None:
        raise ValueError(f"labels are required: the model is conditional on {num_classes} classes")
    check_tensor(labels, "labels", ndim=1, dtype=torch.int64)
    if len(labels) != len(x):
        raise ValueError(f"labels must hold one label per sample, got {len(labels)} for {len(x)}")
    return torch.cat([x, F.one_hot(labels, num_classes).to(x.dtype)], dim=1)


class Generator(nn.Module):
    """An MLP from noise ``z`` (and optionally a class label) to a sample.

    ``output="sigmoid"`` squashes the result into ``[0, 1]`` (pixel values);
    ``"linear"`` leaves it unbounded (points in the plane).

    Shapes:
        ``z`` ``[N, latent_dim]`` (+ ``labels`` ``[N]``) → ``[N, *out_shape]``.
    """

    def __init__(
        self,
        latent_dim: int,
        out_shape: Sequence[int],
        hidden: Sequence[int] = (128, 128),
        num_classes: int = 0,
        output: str = "linear",
    ) -> None:
        super().__init__()
        check_positive(latent_dim, "latent_dim")
        check_positive(num_classes, "num_classes", allow_zero=True)
        check_choice(output, "output", ("linear", "sigmoid"))
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.out_shape = tuple(out_shape)
        out_features = int(torch.Size(self.out_shape).numel())
        self.net = make_mlp([latent_dim + num_classes, *hidden, out_features])
        if output == "sigmoid":
            self.net.append(nn.Sigmoid())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_tensor(z, "z", ndim=2, floating=True)
        if z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be [N, {self.latent_dim}], got shape {tuple(z.shape)}")
        out = self.net(_with_labels(z, labels, self.num_classes))
        return out.reshape(len(z), *self.out_shape)


class Discriminator(nn.Module):
    """An MLP that gives each sample (and optionally its label) one score.

    For the GAN loss the score is a logit (real if positive); for WGAN it is
    the critic's unbounded value. LeakyReLU keeps gradients flowing to the
    generator even for samples the discriminator rejects firmly.

    Shapes:
        ``x`` ``[N, *in_shape]`` (+ ``labels`` ``[N]``) → ``[N]``.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (128, 128),
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        check_positive(in_features, "in_features")
        check_positive(num_classes, "num_classes", allow_zero=True)
        self.in_features, self.num_classes = in_features, num_classes
        leaky = partial(nn.LeakyReLU, 0.2)
        self.net = make_mlp([in_features + num_classes, *hidden, 1], activation=leaky)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_tensor(x, "x", floating=True)
        flat = x.flatten(1)
        if flat.shape[1] != self.in_features:
            raise ValueError(
                f"x must hold {self.in_features} features per sample, got {flat.shape[1]} "
                f"(shape {tuple(x.shape)})"
            )
        return self.net(_with_labels(flat, labels, self.num_classes)).squeeze(1)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """GAN discriminator loss ``−log D(x) − log(1 − D(G(z)))``, averaged.

    ``D = sigmoid(logit)``; computed from logits with
    ``torch.nn.functional.binary_cross_entropy_with_logits``, which is
    numerically stable.

    Shapes:
        ``real_logits`` ``[N]``, ``fake_logits`` ``[M]`` → a scalar.
    """
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``−log D(G(z))``, averaged.

    The minimax game's own ``log(1 − D(G(z)))`` has almost no gradient when
    the discriminator confidently rejects the fakes (early in training); this
    form has the same fixed point and strong gradients there.

    Shapes:
        ``fake_logits`` ``[N]`` → a scalar.
    """
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The minimax game's own generator loss ``log(1 − D(G(z)))``, averaged.

    The generator *minimizes* it. Its gradient with respect to a fake's logit
    is ``−D(G(z))``, which vanishes when the discriminator rejects the fakes
    (``D(G(z)) → 0``), early in training; :func:`generator_loss` is the
    non-saturating replacement, with gradient ``−(1 − D(G(z)))`` there.
    Computed as ``−softplus(logit)``, which is stable for any logit.

    Shapes:
        ``fake_logits`` ``[N]`` → a scalar.
    """
    check_tensor(fake_logits, "fake_logits", floating=True)
    return -F.softplus(fake_logits).mean()


def gradient_penalty(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty ``E[(‖∇_x̂ f(x̂)‖₂ − 1)²]`` on random mixes of real and fake.

    ``x̂ = u · real + (1 − u) · fake`` with ``u ~ U(0, 1)`` per sample. It
    keeps the critic close to 1-Lipschitz, which the Wasserstein distance
    needs, without clipping its weights.

    Shapes:
        ``real`` and ``fake`` ``[N, ...]`` → a scalar (differentiable with
        respect to the critic's parameters).

    Raises:
        ValueError: if ``real`` and ``fake`` differ in shape.
    """
    check_tensor(real, "real", floating=True)
    check_tensor(fake, "fake", floating=True)
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape, got {tuple(real.shape)} "
            f"and {tuple(fake.shape)}"
        )
    u = torch.rand(len(real), generator=generator).to(real.device)
    u = u.reshape(-1, *([1] * (real.ndim - 1)))
    mixed = (u * real + (1 - u) * fake).requires_grad_(True)
    scores = critic(mixed, labels) if labels is not None else critic(mixed)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


def r1_penalty(
    disc: nn.Module, real: torch.Tensor, labels: torch.Tensor | None = None
) -> torch.Tensor:
    """R1 penalty ``E ‖∇_x D(x)‖₂²`` on real samples (Mescheder, Geiger and Nowozin, 2018).

    It punishes the discriminator's slope on the data itself. Near the
    equilibrium, where the fakes sit on the data, a discriminator with a
    steep slope there keeps pushing the generator past the data and back;
    a flat one lets both settle. StyleGAN adds ``γ/2`` times it to the
    loss of the non-saturating GAN. Unlike :func:`gradient_penalty` it
    needs no fakes.

    Shapes:
        ``real`` ``[N, ...]`` → a scalar (differentiable with respect to the
        discriminator's parameters).
    """
    check_tensor(real, "real", floating=True)
    real = real.detach().requires_grad_(True)
    scores = disc(real, labels) if labels is not None else disc(real)
    (grad,) = torch.autograd.grad(scores.sum(), real, create_graph=True)
    return grad.flatten(1).square().sum(dim=1).mean()


class GanHistory(NamedTuple):
    """Loss of each network at every training step.

    ``critic_gap`` is ``E D(real) − E D(fake)`` on the last discriminator
    batch of each step, before the penalty: for WGAN-GP the critic's estimate
    of the Wasserstein distance, for the GAN the gap between mean logits.
    """

    d_loss: list[float]
    g_loss: list[float]
    critic_gap: list[float]


def train_gan(
    gen: Generator,
    disc: Discriminator,
    data: torch.Tensor,
    steps: int,
    labels: torch.Tensor | None = None,
    loss: str = "gan",
    batch_size: int = 128,
    lr: float = 2e-4,
    critic_steps: int = 1,
    gp_weight: float = 10.0,
    device: torch.device | str = "cpu",
    seed: int = 0,
    r1_weight: float = 0.0,
    betas: tuple[float, float] | None = None,
    average: torch.optim.swa_utils.AveragedModel | None = None,
) -> GanHistory:
    """Alternate discriminator and generator updates for ``steps`` rounds.

    Each round: ``critic_steps`` updates of the discriminator on a real batch
    and a fresh fake batch, then one generator update. ``loss="gan"`` uses
    :func:`discriminator_loss`/:func:`generator_loss`; ``loss="wgan-gp"`` uses
    the critic loss ``E f(fake) − E f(real)`` plus ``gp_weight`` times
    :func:`gradient_penalty`, and the generator loss ``−E f(fake)``.
    ``r1_weight`` (``γ``, GAN loss only) adds ``γ/2`` times
    :func:`r1_penalty` to the discriminator loss. Both networks use Adam
    with ``betas``, by default the papers' choices: ``(0.5, 0.999)`` (DCGAN)
    for the GAN loss, ``(0.0, 0.9)`` for WGAN-GP. With
    ``labels`` both networks are conditional: fakes get the labels of the
    real batch they are compared with.

    Shapes:
        ``data`` ``[N, ...]``, ``labels`` ``[N]`` (int64) or ``None``.
    """
    check_choice(loss, "loss", ("gan", "wgan-gp"))
    check_tensor(data, "data", floating=True)
    check_positive(steps, "steps")
    check_positive(critic_steps, "critic_steps")
    check_positive(r1_weight, "r1_weight", allow_zero=True)
    if r1_weight > 0 and loss != "gan":
        raise ValueError(f"r1_weight applies to loss='gan' only, got loss={loss!r}")
    if labels is not None and len(labels) != len(data):
        raise ValueError(
            f"labels must hold one label per sample, got {len(labels)} for {len(data)}"
        )
    rng = torch.Generator().manual_seed(seed)
    gen.to(device).train()
    disc.to(device).train()
    if betas is None:
        betas = (0.5, 0.999) if loss == "gan" else (0.0, 0.9)  # the papers' choices
    opt_g = torch.optim.Adam(gen.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=betas)
    history = GanHistory([], [], [])

    def batch() -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        idx = torch.randint(len(data), (batch_size,), generator=rng)
        y = labels[idx].to(device) if labels is not None else None
        z = torch.randn(batch_size, gen.latent_dim, generator=rng).to(device)
        return data[idx].to(device), y, z

    for _ in range(steps):
        for _ in range(critic_steps):  # 1. the discriminator (critic) learns
            real, y, z = batch()
            fake = gen(z, y).detach()  # no gradient into the generator here
            real_scores, fake_scores = disc(real, y), disc(fake, y)
            if loss == "gan":
                d_loss = discriminator_loss(real_scores, fake_scores)
                if r1_weight > 0:
                    d_loss = d_loss + r1_weight / 2 * r1_penalty(disc, real, y)
            else:
                d_loss = fake_scores.mean() - real_scores.mean()
                d_loss = d_loss + gp_weight * gradient_penalty(disc, real, fake, y, rng)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        _, y, z = batch()  # 2. the generator learns to fool it
        scores = disc(gen(z, y), y)
        g_loss = generator_loss(scores) if loss == "gan" else -scores.mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if average is not None:  # e.g. an exponential moving average of the weights
            average.update_parameters(gen)
        history.d_loss.append(d_loss.item())
        history.g_loss.append(g_loss.item())
        history.critic_gap.append((real_scores.mean() - fake_scores.mean()).item())
    gen.eval()
    if average is not None:
        average.eval()
    disc.eval()
    return history


class Coverage(NamedTuple):
    """How generated 2-D points cover the modes of a mixture."""

    counts: torch.Tensor  #: samples assigned to each mode, ``[modes]``
    covered: int  #: modes holding at least ``min_count`` samples
    high_quality: float  #: fraction of samples within ``k·std`` of some centre


def mode_coverage(
    samples: torch.Tensor,
    centers: torch.Tensor,
    std: float,
    k: float = 3.0,
    min_fraction: float = 0.02,
) -> Coverage:
    """Count the modes of a Gaussian mixture that generated samples reach.

    A sample belongs to the nearest centre if it lies within ``k · std`` of
    it; otherwise it is off every mode. A mode is *covered* when it holds at
    least ``min_fraction`` of all samples. A collapsed generator covers few
    modes; a blurry one has a low ``high_quality`` fraction.

    Shapes:
        ``samples`` ``[N, D]``, ``centers`` ``[modes, D]``.

    Raises:
        ValueError: if the shapes do not fit or ``std``/``k`` are not positive.
    """
    check_tensor(samples, "samples", ndim=2, floating=True)
    check_tensor(centers, "centers", ndim=2, floating=True)
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(
            f"samples and centers must have the same dimension, got {samples.shape[1]} "
            f"and {centers.shape[1]}"
        )
    check_positive(std, "std")
    check_positive(k, "k")
    distances = torch.cdist(samples.float(), centers.float())  # [N, modes]
    nearest, mode = distances.min(dim=1)
    close = nearest <= k * std
    counts = torch.bincount(mode[close], minlength=len(centers))
    covered = int((counts >= min_fraction * len(samples)).sum())
    return Coverage(counts, covered, close.float().mean().item())


def digit_judge(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    epochs: int = 30,
    device: torch.device | str = "cpu",
) -> nn.Sequential:
    """A judge of generated 8×8 digits: an MLP classifier trained on real ones.

    ``make_mlp([64, 128, 10], dropout=0.2)``, trained with cross-entropy and
    Adam (lr ``1e-3``) for ``epochs`` passes over batches of 64 shuffled with
    seed 0. It never sees a generated image, so its confidence on samples
    measures how much they look like digits, and the spread of its labels
    whether the generator draws every class. Its starting weights come from
    the global random state: seed it first.

    Shapes:
        ``x_train`` ``[N, 1, 8, 8]`` or ``[N, 64]`` in ``[0, 1]``, ``y_train``
        ``[N]`` → a module (on the CPU, in eval mode) from ``[M, 1, 8, 8]``
        or ``[M, 64]`` to logits ``[M, 10]``.
    """
    check_tensor(x_train, "x_train", floating=True)
    if x_train[0].numel() != 64 or len(x_train) != len(y_train):
        raise ValueError(
            f"x_train must be [N, 1, 8, 8] or [N, 64] with one label each, got "
            f"{tuple(x_train.shape)} and {len(y_train)} labels"
        )
    judge = make_mlp([64, 128, 10], dropout=0.2)
    fit(
        judge,
        make_loader(x_train, y_train, seed=0),
        nn.CrossEntropyLoss(),
        torch.optim.Adam(judge.parameters(), lr=1e-3),
        epochs=epochs,
        device=device,
    )
    return judge.cpu().eval()


def judge_samples(judge: nn.Module, images: torch.Tensor) -> tuple[float, torch.Tensor]:
    """What a classifier sees in generated images: its mean confidence and its labels.

    The confidence is the mean over images of the largest softmax
    probability; the counts are how many images receive each label. Blurry
    samples give low confidence; a collapsed generator gives confident
    labels of few classes.

    Shapes:
        ``images`` ``[N, ...]`` as ``judge`` takes them → (a number, counts
        ``[num_classes]``).
    """
    check_tensor(images, "images", floating=True)
    with torch.no_grad():
        probs = judge(images).softmax(dim=1)
    counts = torch.bincount(probs.argmax(dim=1), minlength=probs.shape[1])
    return probs.max(dim=1).values.mean().item(), counts


def nearest_distance(images: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean Euclidean distance from each image to its nearest image in ``reference``.

    With held-out real images as ``reference`` it rewards samples that look
    like real data the generator never saw, and punishes blur and noise.

    Shapes:
        ``images`` ``[N, ...]``, ``reference`` ``[M, ...]`` with the same
        trailing sizes → a number.
    """
    check_tensor(images, "images", floating=True)
    check_tensor(reference, "reference", floating=True)
    if images.shape[1:] != reference.shape[1:]:
        raise ValueError(
            f"images and reference must have the same trailing sizes, got "
            f"{tuple(images.shape)} and {tuple(reference.shape)}"
        )
    distances = torch.cdist(images.flatten(1).float(), reference.flatten(1).float())
    return distances.min(dim=1).values.mean().item()

"""Knowledge distillation as in DistilBERT: a small student learns from a large teacher.

The student is trained on three losses at once:

* :func:`soft_target_loss`: the KL divergence between the teacher's and the
  student's class probabilities, both softened by a temperature ``T``
  (:func:`soft_targets`), times ``T²``;
* the ordinary cross-entropy with the true labels (hard targets);
* :func:`hidden_cosine_loss`: ``1 − cos`` between the student's and the
  teacher's last hidden states, which pulls them in the same direction.

:class:`DistillationLoss` weighs the three; :func:`student_from_teacher`
builds the student with every other layer of the teacher, DistilBERT's
initialization. :func:`forward_flops` counts what one forward pass costs, so
that teacher and student can be compared by a number that does not depend on
the machine.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from snippets.common.checks import check_positive, check_tensor
from snippets.transformer_family.bert import BertForClassification


def soft_targets(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``softmax(logits / T)`` over the last dimension: above ``T = 1`` the probabilities flatten.

    Shapes:
        ``logits`` ``[..., C]`` → probabilities ``[..., C]``.

    Raises:
        TypeError: if ``logits`` is not a floating-point tensor.
        ValueError: if ``temperature`` is not positive.
    """
    check_tensor(logits, "logits", floating=True)
    check_positive(temperature, "temperature")
    return torch.softmax(logits / temperature, dim=-1)


def soft_target_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 2.0
) -> torch.Tensor:
    """``T² · KL(p_teacher ‖ p_student)`` with both softened by ``T``, averaged over the batch.

    ``p = softmax(logits / T)``. The gradient of the KL term with respect to
    the student's logits shrinks like ``1/T²``; multiplying by ``T²`` keeps
    it on the scale of the hard-label loss whatever the temperature
    (Hinton et al., 2015). The loss is 0 exactly when the two distributions
    agree.

    Shapes:
        ``student_logits`` and ``teacher_logits`` ``[N, C]`` → a scalar.

    Raises:
        TypeError: if the logits are not floating-point tensors.
        ValueError: if they are not ``[N, C]`` of the same shape or
            ``temperature`` is not positive.
    """
    check_tensor(student_logits, "student_logits", ndim=2, floating=True)
    check_tensor(teacher_logits, "teacher_logits", ndim=2, floating=True)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"teacher_logits must have the shape of student_logits, "
            f"{tuple(student_logits.shape)}, got {tuple(teacher_logits.shape)}"
        )
    check_positive(temperature, "temperature")
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher_logits / temperature, dim=-1)
    kl = (log_teacher.exp() * (log_teacher - log_student)).sum(dim=-1)  # [N]
    return temperature**2 * kl.mean()


def hidden_cosine_loss(
    student_hidden: torch.Tensor, teacher_hidden: torch.Tensor, keep: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean of ``1 − cos(h_student, h_teacher)`` over positions (those where ``keep`` is ``True``).

    It is 0 when every student vector points the way of its teacher vector,
    whatever their lengths, and 2 when they point opposite ways.

    Shapes:
        ``student_hidden`` and ``teacher_hidden`` ``[N, T, d]``, ``keep``
        ``[N, T]`` (boolean, e.g. not padding) → a scalar.

    Raises:
        TypeError: if the hidden states are not floating-point or ``keep`` not boolean.
        ValueError: if the shapes differ or ``keep`` keeps no position.
    """
    check_tensor(student_hidden, "student_hidden", ndim=3, floating=True)
    check_tensor(teacher_hidden, "teacher_hidden", ndim=3, floating=True)
    if student_hidden.shape != teacher_hidden.shape:
        raise ValueError(
            f"teacher_hidden must have the shape of student_hidden, "
            f"{tuple(student_hidden.shape)}, got {tuple(teacher_hidden.shape)}"
        )
    distance = 1 - F.cosine_similarity(student_hidden, teacher_hidden, dim=-1)  # [N, T]
    if keep is None:
        return distance.mean()
    check_tensor(keep, "keep", ndim=2, dtype=torch.bool)
    if keep.shape != distance.shape:
        raise ValueError(f"keep must have shape {tuple(distance.shape)}, got {tuple(keep.shape)}")
    if not keep.any():
        raise ValueError("keep must keep at least one position")
    return distance[keep].mean()


@dataclasses.dataclass
class DistillationLoss:
    """``soft · soft_target_loss + hard · cross_entropy + cosine · hidden_cosine_loss``.

    Called as ``loss(outputs, targets)`` with ``outputs = (student_logits,
    student_hidden)`` and ``targets = (teacher_logits, teacher_hidden,
    labels)``, the shape :func:`snippets.common.train.fit` hands a loss.
    The hidden-state term skips the positions where ``keep`` (an optional
    fourth item of ``targets``) is ``False``.

    Raises:
        ValueError: if ``temperature`` is not positive or a weight is negative.
    """

    temperature: float = 2.0
    soft: float = 5.0
    hard: float = 2.0
    cosine: float = 1.0

    def __post_init__(self) -> None:
        check_positive(self.temperature, "temperature")
        for name in ("soft", "hard", "cosine"):
            check_positive(getattr(self, name), name, allow_zero=True)

    def __call__(self, outputs: tuple, targets: tuple) -> torch.Tensor:
        """The weighted sum of the three losses."""
        student_logits, student_hidden = outputs
        teacher_logits, teacher_hidden, labels, *keep = targets
        loss = self.soft * soft_target_loss(student_logits, teacher_logits, self.temperature)
        loss = loss + self.hard * F.cross_entropy(student_logits, labels)
        if self.cosine:
            cos = hidden_cosine_loss(student_hidden, teacher_hidden, keep[0] if keep else None)
            loss = loss + self.cosine * cos
        return loss


def student_from_teacher(teacher: BertForClassification, num_layers: int) -> BertForClassification:
    """A copy of ``teacher`` with ``num_layers`` of its layers, evenly spaced (DistilBERT's start).

    With half the layers the student keeps layers 0, 2, 4, …; embeddings,
    pooler and classifier are copied whole. The student has the teacher's
    width, so its hidden states can be compared with the teacher's.

    Raises:
        TypeError: if ``teacher`` is not a :class:`BertForClassification`.
        ValueError: if ``num_layers`` is not in ``1 … teacher's layers``.
    """
    if not isinstance(teacher, BertForClassification):
        raise TypeError(f"teacher must be a BertForClassification, got {type(teacher).__name__}")
    check_positive(num_layers, "num_layers")
    layers = teacher.bert.config.num_layers
    if num_layers > layers:
        raise ValueError(f"num_layers must be at most the teacher's {layers}, got {num_layers}")
    student = copy.deepcopy(teacher)
    student.bert.config = dataclasses.replace(teacher.bert.config, num_layers=num_layers)
    step = layers / num_layers
    keep = [int(i * step) for i in range(num_layers)]
    student.bert.encoder.layers = torch.nn.ModuleList(student.bert.encoder.layers[i] for i in keep)
    student.bert.embeddings.config = student.bert.config
    return student


def forward_flops(model: torch.nn.Module, *inputs: torch.Tensor) -> int:
    """Floating-point operations of one forward pass ``model(*inputs)``, counted by PyTorch.

    :class:`torch.utils.flop_counter.FlopCounterMode` records every matrix
    product (``nn.Linear``, ``@``, attention) as ``2 · m · n · k``
    operations, a multiply and an add; element-wise work (LayerNorm, GELU,
    softmax) and embedding look-ups are not counted, since the products
    dominate. The count depends on the shapes only, never on the machine,
    which makes it a speed-up that can be asserted. The model runs without
    gradients, in whatever mode (train or eval) it is in.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*inputs)
    return counter.get_total_flops()

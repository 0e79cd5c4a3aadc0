"""DETR: object detection as direct set prediction with a transformer.

A CNN backbone turns the image into a grid of feature vectors; a transformer
encoder mixes them; a decoder lets a fixed set of learned *object queries*
read from them; and two small heads turn every query into a class (or "no
object") and a box. Training pairs queries with true objects by Hungarian
matching (:mod:`snippets.vision_transformers.matcher`) and applies a classification, an L1 and a
generalized-IoU loss to the pairs (Carion et al., 2020).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.transformers.positional import sinusoidal_features
from snippets.transformers.transformer import Decoder, DecoderLayer, Encoder, EncoderLayer
from snippets.vision_transformers.boxes import box_cxcywh_to_xyxy, box_iou, generalized_box_iou
from snippets.vision_transformers.matcher import match_batch


def sine_position_encoding_2d(
    height: int, width: int, dim: int, temperature: float = 10000.0
) -> torch.Tensor:
    """Fixed 2-D sine/cosine position encoding of a ``height × width`` grid.

    Half of the ``dim`` channels encode the row, half the column, each with
    the Transformer's 1-D encoding
    (:func:`~snippets.transformers.positional.sinusoidal_features` with
    ``dim/2`` features, laid out as ``[sin…, cos…]``, base ``temperature``)
    of the coordinate scaled to ``[0, 2π]``, as in DETR.

    Shapes:
        -> ``[height * width, dim]``, row-major (the order of ``flatten(2)``).

    Raises:
        ValueError: if ``dim`` is not a positive multiple of 4.
    """
    check_positive(height, "height")
    check_positive(width, "width")
    check_positive(dim, "dim")
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4, got {dim}")
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height * 2 * math.pi
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 * math.pi
    y_code = sinusoidal_features(ys, dim // 2, temperature, interleave=False)  # [H, dim/2]
    x_code = sinusoidal_features(xs, dim // 2, temperature, interleave=False)  # [W, dim/2]
    grid = torch.cat(
        [
            y_code[:, None, :].expand(height, width, dim // 2),
            x_code[None, :, :].expand(height, width, dim // 2),
        ],
        dim=-1,
    )
    return grid.reshape(height * width, dim)


def make_backbone(in_channels: int = 1, dim: int = 64) -> nn.Sequential:
    """A small CNN that shrinks the image 4× per side into ``dim`` channels.

    DETR uses a ResNet-50 (32× smaller); a few convolutions suffice for digits.

    Shapes:
        ``[N, in_channels, H, W]`` -> ``[N, dim, H/4, W/4]``.
    """
    check_positive(in_channels, "in_channels")
    check_positive(dim, "dim")
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, stride=2, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.Conv2d(64, dim, 3, stride=2, padding=1),
        nn.BatchNorm2d(dim),
        nn.ReLU(),
        nn.Conv2d(dim, dim, 3, padding=1),
    )


class DETR(nn.Module):
    """A small DETR: backbone, transformer encoder-decoder, object queries, two heads.

    The encoder and decoder are stacks of the pre-norm
    :class:`~snippets.transformers.transformer.EncoderLayer` and
    :class:`~snippets.transformers.transformer.DecoderLayer` of the
    Transformer chapter, each ending in a LayerNorm. One simplification
    against the paper: the position encoding is added to the features once,
    before the encoder, and the object queries are the decoder's input,
    instead of adding both to the queries and keys inside every layer.

    Shapes:
        ``images`` ``[N, C, H, W]`` -> ``logits`` ``[N, queries, classes + 1]``
        (the last class is "no object") and ``boxes`` ``[N, queries, 4]``,
        normalized ``(cx, cy, w, h)`` in ``[0, 1]``.
    """

    def __init__(
        self,
        num_classes: int,
        num_queries: int = 10,
        dim: int = 64,
        heads: int = 4,
        encoder_layers: int = 2,
        decoder_layers: int = 2,
        ff_dim: int = 128,
        in_channels: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for value, name in (
            (num_classes, "num_classes"),
            (num_queries, "num_queries"),
            (encoder_layers, "encoder_layers"),
            (decoder_layers, "decoder_layers"),
        ):
            check_positive(value, name)
        if dim % heads or dim % 4:
            raise ValueError(f"dim must be divisible by heads and by 4, got {dim} and {heads}")
        self.num_classes = num_classes
        self.backbone = make_backbone(in_channels, dim)
        encoder_layer = EncoderLayer(dim, heads, ff_dim, dropout, norm_first=True)
        self.encoder = Encoder(encoder_layer, encoder_layers, norm=nn.LayerNorm(dim))
        decoder_layer = DecoderLayer(dim, heads, ff_dim, dropout, norm_first=True)
        self.decoder = Decoder(decoder_layer, decoder_layers, norm=nn.LayerNorm(dim))
        self.queries = nn.Parameter(torch.randn(num_queries, dim) * 0.1)  # learned object queries
        self.class_head = nn.Linear(dim, num_classes + 1)
        self.box_head = nn.Sequential(
            nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 4)
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor(images, "images", ndim=4, floating=True)
        features = self.backbone(images)  # [N, D, h, w]
        n, dim, h, w = features.shape
        position = sine_position_encoding_2d(h, w, dim).to(features)
        tokens = features.flatten(2).transpose(1, 2) + position  # [N, h*w, D]
        memory = self.encoder(tokens)  # [N, h*w, D]
        queries = self.queries.unsqueeze(0).expand(n, -1, -1)  # [N, Q, D]
        decoded = self.decoder(queries, memory)  # [N, Q, D]: queries read the image
        return self.class_head(decoded), self.box_head(decoded).sigmoid()


def set_loss(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    target_labels: list[torch.Tensor],
    target_boxes: list[torch.Tensor],
    no_object_weight: float = 0.1,
    class_weight: float = 1.0,
    l1_weight: float = 5.0,
    giou_weight: float = 2.0,
) -> dict[str, torch.Tensor]:
    """DETR's set loss: match, then classification + L1 + generalized-IoU losses.

    Every query takes part in the cross-entropy; the unmatched ones must
    predict "no object" (class ``classes``), down-weighted by
    ``no_object_weight`` because they are the majority. Only matched queries
    get box losses, averaged over the number of true objects.

    Shapes:
        ``logits`` ``[N, Q, classes + 1]``, ``boxes`` ``[N, Q, 4]``; per image
        ``target_labels[n]`` ``[T_n]``, ``target_boxes[n]`` ``[T_n, 4]``
        (normalized ``(cx, cy, w, h)``) -> a dict of scalars ``"class"``,
        ``"l1"``, ``"giou"`` and their weighted sum ``"total"``.

    Raises:
        ValueError: if the shapes do not fit together (see
            :func:`snippets.vision_transformers.matcher.match_batch`).
    """
    check_positive(no_object_weight, "no_object_weight", allow_zero=True)
    matches = match_batch(
        logits,
        boxes,
        target_labels,
        target_boxes,
        class_weight=class_weight,
        l1_weight=l1_weight,
        giou_weight=giou_weight,
    )
    num_classes = logits.shape[-1] - 1
    batch_index = torch.cat([torch.full_like(q, n) for n, (q, _) in enumerate(matches)])
    query_index = torch.cat([q for q, _ in matches])
    matched_labels = torch.cat([t[j] for t, (_, j) in zip(target_labels, matches)])
    matched_targets = torch.cat([t[j] for t, (_, j) in zip(target_boxes, matches)])

    classes = torch.full(logits.shape[:2], num_classes, dtype=torch.int64, device=logits.device)
    classes[batch_index, query_index] = matched_labels.to(logits.device)
    class_weights = torch.ones(num_classes + 1, dtype=logits.dtype, device=logits.device)
    class_weights[-1] = no_object_weight
    loss_class = F.cross_entropy(logits.transpose(1, 2), classes, weight=class_weights)

    count = max(len(matched_targets), 1)
    matched = boxes[batch_index, query_index]  # [M, 4]
    matched_targets = matched_targets.to(boxes.device)
    loss_l1 = (matched - matched_targets).abs().sum() / count
    giou = generalized_box_iou(box_cxcywh_to_xyxy(matched), box_cxcywh_to_xyxy(matched_targets))
    loss_giou = (1 - giou.diagonal()).sum() / count
    total = class_weight * loss_class + l1_weight * loss_l1 + giou_weight * loss_giou
    return {"class": loss_class, "l1": loss_l1, "giou": loss_giou, "total": total}


class Detection(NamedTuple):
    """The objects found in one image."""

    scores: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor


@torch.no_grad()
def detect(logits: torch.Tensor, boxes: torch.Tensor, threshold: float = 0.5) -> list[Detection]:
    """Keep the queries whose most likely real class is confident enough.

    DETR needs no non-maximum suppression: the set loss taught the queries
    not to duplicate each other.

    Shapes:
        ``logits`` ``[N, Q, classes + 1]``, ``boxes`` ``[N, Q, 4]`` -> ``N``
        detections with ``scores`` ``[K]``, ``labels`` ``[K]`` and ``boxes``
        ``[K, 4]`` (same box format as the input).

    Raises:
        ValueError: if ``threshold`` is not in ``[0, 1]`` or the shapes differ.
    """
    check_tensor(logits, "logits", ndim=3, floating=True)
    check_tensor(boxes, "boxes", ndim=3, floating=True)
    if boxes.shape[:2] != logits.shape[:2]:
        raise ValueError(
            f"boxes must be [N, Q, 4] with N, Q of logits {tuple(logits.shape[:2])}, "
            f"got {tuple(boxes.shape)}"
        )
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    scores, labels = logits.softmax(-1)[..., :-1].max(-1)  # best real class per query
    return [
        Detection(s[keep], l[keep], b[keep])
        for s, l, b, keep in zip(scores, labels, boxes, scores > threshold)
    ]


def average_precision(
    detections: list[Detection],
    target_labels: list[torch.Tensor],
    target_boxes: list[torch.Tensor],
    num_classes: int,
    iou_threshold: float = 0.5,
) -> float:
    """Mean over classes of the average precision at one IoU threshold (``AP@0.5``).

    Per class, detections from all images are ranked by score; each is a true
    positive if it overlaps a not-yet-claimed true box of its class with IoU
    ``>= iou_threshold``, else a false positive. AP is the area under the
    precision–recall curve after making precision non-increasing (the
    all-point interpolation of PASCAL VOC). Classes without true boxes are
    skipped.

    Shapes:
        per image, detections as from :func:`detect` and targets ``[T_n]``,
        ``[T_n, 4]``, all boxes in the same format (corner or centre: the
        function converts centre boxes, so pass ``(cx, cy, w, h)``).

    Raises:
        ValueError: if the lists differ in length or ``iou_threshold`` is not
            in ``(0, 1]``.
    """
    if not len(detections) == len(target_labels) == len(target_boxes):
        raise ValueError(
            "detections, target_labels and target_boxes must hold the same number of images, "
            f"got {len(detections)}, {len(target_labels)} and {len(target_boxes)}"
        )
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    check_positive(num_classes, "num_classes")
    precisions = []
    for c in range(num_classes):
        ranked = []  # (score, is_true_positive)
        total_true = 0
        for det, labels, truth in zip(detections, target_labels, target_boxes):
            truth = box_cxcywh_to_xyxy(truth[labels == c].float())
            total_true += len(truth)
            mine = det.labels == c
            scores, predicted = det.scores[mine], box_cxcywh_to_xyxy(det.boxes[mine].float())
            claimed = torch.zeros(len(truth), dtype=torch.bool)
            for k in scores.argsort(descending=True).tolist():
                hit = False
                if len(truth):
                    iou = box_iou(predicted[k : k + 1], truth)[0][0].masked_fill(claimed, -1.0)
                    best = int(iou.argmax())
                    if iou[best] >= iou_threshold:
                        claimed[best], hit = True, True
                ranked.append((float(scores[k]), hit))
        if total_true == 0:
            continue
        ranked.sort(key=lambda pair: -pair[0])
        hits = torch.tensor([h for _, h in ranked], dtype=torch.float64)
        true_positives = hits.cumsum(0)
        recall = torch.cat([torch.zeros(1, dtype=torch.float64), true_positives / total_true])
        precision = true_positives / torch.arange(1, len(hits) + 1, dtype=torch.float64)
        precision = torch.cat([torch.ones(1, dtype=torch.float64), precision])
        envelope = precision.flip(0).cummax(0).values.flip(0)  # non-increasing precision
        precisions.append(float(((recall[1:] - recall[:-1]) * envelope[1:]).sum()))
    return sum(precisions) / len(precisions) if precisions else 0.0

import math

import pytest
import torch

from snippets.transformers.transformer import Decoder, DecoderLayer, Encoder, EncoderLayer
from snippets.vision_transformers.detr import (
    DETR,
    Detection,
    average_precision,
    detect,
    make_backbone,
    set_loss,
    sine_position_encoding_2d,
)
from snippets.vision_transformers.matcher import match_batch


def test_sine_position_encoding_by_hand():
    code = sine_position_encoding_2d(2, 3, 8)
    assert code.shape == (6, 8)
    # token 4 is row 1, column 1; the first frequency is 1, angles (k + 0.5) / n · 2π
    y, x = 1.5 / 2 * 2 * math.pi, 1.5 / 3 * 2 * math.pi
    assert code[4, 0].item() == pytest.approx(math.sin(y), abs=1e-6)
    assert code[4, 2].item() == pytest.approx(math.cos(y), abs=1e-6)
    assert code[4, 4].item() == pytest.approx(math.sin(x), abs=1e-6)
    assert code[4, 6].item() == pytest.approx(math.cos(x), abs=1e-6)
    # the second frequency is 10000^(-1/2) = 0.01 (frequency k is 10000^(-k/(dim/4)))
    assert code[4, 1].item() == pytest.approx(math.sin(0.01 * y), abs=1e-6)
    assert code[4, 3].item() == pytest.approx(math.cos(0.01 * y), abs=1e-6)
    assert code[4, 7].item() == pytest.approx(math.cos(0.01 * x), abs=1e-6)
    assert len({tuple(row.tolist()) for row in code}) == 6  # every position distinct
    torch.testing.assert_close(code[:3, :4], code[:3, :4][:1].expand(3, 4))  # same row, same y


def test_sine_position_encoding_matches_detr_formula():
    # DETR's formula written out: omega_k = t^(-k/(dim/4)) for k < dim/4, [sin, cos] of each axis
    height, width, dim, t = 3, 5, 16, 100.0
    omega = t ** (-torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    ys = (torch.arange(height, dtype=torch.float64) + 0.5) / height * 2 * math.pi
    xs = (torch.arange(width, dtype=torch.float64) + 0.5) / width * 2 * math.pi
    want = torch.zeros(height, width, dim, dtype=torch.float64)
    for r in range(height):
        for c in range(width):
            y, x = ys[r] * omega, xs[c] * omega
            want[r, c] = torch.cat([y.sin(), y.cos(), x.sin(), x.cos()])
    code = sine_position_encoding_2d(height, width, dim, temperature=t)
    torch.testing.assert_close(code.double(), want.reshape(-1, dim), rtol=0, atol=1e-6)


def test_backbone_and_detr_shapes():
    assert make_backbone(1, 16)(torch.zeros(2, 1, 32, 32)).shape == (2, 16, 8, 8)
    model = DETR(num_classes=3, num_queries=5, dim=32, heads=4, ff_dim=64)
    logits, boxes = model(torch.rand(2, 1, 32, 32))
    assert logits.shape == (2, 5, 4) and boxes.shape == (2, 5, 4)
    assert (boxes > 0).all() and (boxes < 1).all()  # normalized (cx, cy, w, h)


def test_detr_transformer_is_the_sites_pre_norm_stack():
    model = DETR(num_classes=2, dim=32, heads=4, encoder_layers=2, decoder_layers=3, ff_dim=64)
    model.eval()
    assert isinstance(model.encoder, Encoder) and isinstance(model.decoder, Decoder)
    assert [type(layer) for layer in model.encoder.layers] == [EncoderLayer] * 2
    assert [type(layer) for layer in model.decoder.layers] == [DecoderLayer] * 3
    # the same weights in PyTorch's own pre-norm stacks (ReLU, final LayerNorm) agree
    encoder = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(32, 4, 64, 0.0, batch_first=True, norm_first=True),
        2,
        norm=torch.nn.LayerNorm(32),
        enable_nested_tensor=False,
    ).eval()
    decoder = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(32, 4, 64, 0.0, batch_first=True, norm_first=True),
        3,
        norm=torch.nn.LayerNorm(32),
    ).eval()
    encoder.load_state_dict(model.encoder.state_dict())
    decoder.load_state_dict(model.decoder.state_dict())
    tokens, queries = torch.randn(2, 16, 32), torch.randn(2, 5, 32)
    with torch.no_grad():
        memory = model.encoder(tokens)
        torch.testing.assert_close(memory, encoder(tokens), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(
            model.decoder(queries, memory), decoder(queries, memory), rtol=1e-5, atol=1e-5
        )


def test_queries_are_a_set_without_order():
    # the decoder has no position encoding of its own: permuting the queries
    # permutes the predictions and changes nothing else
    model = DETR(num_classes=2, num_queries=4, dim=32, heads=4, ff_dim=64).eval()
    images = torch.rand(1, 1, 16, 16)
    logits, boxes = model(images)
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        model.queries.copy_(model.queries[perm])
    logits2, boxes2 = model(images)
    torch.testing.assert_close(logits2, logits[:, perm])
    torch.testing.assert_close(boxes2, boxes[:, perm])


def test_set_loss_by_hand():
    # two queries, one true box; query 1 predicts it exactly and confidently
    target_labels, target_boxes = [torch.tensor([0])], [torch.tensor([[0.5, 0.5, 0.2, 0.2]])]
    logits = torch.tensor([[[0.0, 2.0], [3.0, 0.0]]])  # [1, Q=2, classes + 1 = 2]
    boxes = torch.tensor([[[0.2, 0.2, 0.1, 0.1], [0.5, 0.5, 0.2, 0.2]]])
    losses = set_loss(logits, boxes, target_labels, target_boxes, no_object_weight=0.1)
    assert losses["l1"].item() == pytest.approx(0.0, abs=1e-6)
    assert losses["giou"].item() == pytest.approx(0.0, abs=1e-6)
    log_p = logits.log_softmax(-1)
    # weighted cross-entropy: query 1 -> class 0 (weight 1), query 0 -> "no object" (weight 0.1)
    want = -(1.0 * log_p[0, 1, 0] + 0.1 * log_p[0, 0, 1]) / 1.1
    torch.testing.assert_close(losses["class"], want)
    torch.testing.assert_close(
        losses["total"], losses["class"] + 5 * losses["l1"] + 2 * losses["giou"]
    )


def test_set_loss_ignores_query_order():
    torch.manual_seed(1)
    logits, boxes = torch.randn(2, 5, 4), torch.rand(2, 5, 4) * 0.5 + 0.2
    labels = [torch.tensor([0, 2]), torch.tensor([1])]
    targets = [torch.rand(2, 4) * 0.5 + 0.2, torch.rand(1, 4) * 0.5 + 0.2]
    perm = torch.randperm(5)
    a = set_loss(logits, boxes, labels, targets)
    b = set_loss(logits[:, perm], boxes[:, perm], labels, targets)
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_training_step_lowers_the_set_loss():
    model = DETR(num_classes=1, num_queries=3, dim=32, heads=4, ff_dim=64)
    images = torch.rand(2, 1, 8, 8)
    labels = [torch.tensor([0])] * 2
    targets = [torch.tensor([[0.3, 0.4, 0.2, 0.3]])] * 2
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = None
    for _ in range(6):
        loss = set_loss(*model(images), labels, targets)["total"]
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first


def test_detect_keeps_confident_queries():
    logits = torch.tensor([[[4.0, 0.0, 0.0], [0.0, 0.0, 4.0], [0.0, 3.0, 0.0]]])
    boxes = torch.rand(1, 3, 4)
    (found,) = detect(logits, boxes, threshold=0.5)
    assert found.labels.tolist() == [0, 1]
    torch.testing.assert_close(found.boxes, boxes[0, [0, 2]])
    torch.testing.assert_close(found.scores, logits[0, [0, 2]].softmax(-1).max(-1).values)


def _det(scores, labels, boxes):
    return Detection(torch.tensor(scores), torch.tensor(labels), torch.tensor(boxes))


def test_average_precision_by_hand():
    truth_boxes = [torch.tensor([[0.25, 0.25, 0.2, 0.2], [0.75, 0.75, 0.2, 0.2]])]
    truth_labels = [torch.tensor([0, 0])]
    hit1, hit2, miss = [0.25, 0.25, 0.2, 0.2], [0.75, 0.75, 0.2, 0.2], [0.5, 0.5, 0.1, 0.1]
    perfect = [_det([0.9, 0.8], [0, 0], [hit1, hit2])]
    assert average_precision(perfect, truth_labels, truth_boxes, 1) == pytest.approx(1.0)
    # a false positive ranked below both hits costs nothing
    late = [_det([0.9, 0.8, 0.1], [0, 0, 0], [hit1, hit2, miss])]
    assert average_precision(late, truth_labels, truth_boxes, 1) == pytest.approx(1.0)
    # ranked first, it halves precision at recall 0.5 and leaves 2/3 at recall 1
    early = [_det([0.95, 0.9, 0.8], [0, 0, 0], [miss, hit1, hit2])]
    assert average_precision(early, truth_labels, truth_boxes, 1) == pytest.approx(2 / 3)
    # one of two found: recall stops at 0.5
    half = [_det([0.9], [0], [hit1])]
    assert average_precision(half, truth_labels, truth_boxes, 1) == pytest.approx(0.5)
    # a duplicate of an already-claimed box is a false positive
    duplicate = [_det([0.9, 0.8, 0.7], [0, 0, 0], [hit1, hit1, hit2])]
    assert average_precision(duplicate, truth_labels, truth_boxes, 1) == pytest.approx(
        0.5 + 0.5 * 2 / 3
    )
    # the right box with the wrong class is a miss; the mean runs over classes with boxes
    wrong = [_det([0.9, 0.8], [1, 0], [hit1, hit2])]
    assert average_precision(wrong, truth_labels, truth_boxes, 3) == pytest.approx(0.5)


def test_matching_in_the_loss_agrees_with_the_matcher():
    logits, boxes = torch.randn(1, 4, 3), torch.rand(1, 4, 4) * 0.5 + 0.2
    labels, targets = [torch.tensor([1, 0])], [torch.rand(2, 4) * 0.5 + 0.2]
    ((queries, order),) = match_batch(logits, boxes, labels, targets)
    loss = set_loss(logits, boxes, labels, targets)
    want_l1 = (boxes[0, queries] - targets[0][order]).abs().sum() / 2
    torch.testing.assert_close(loss["l1"], want_l1)


def test_bad_input():
    with pytest.raises(ValueError, match="dim must be a multiple of 4, got 6"):
        sine_position_encoding_2d(2, 2, 6)
    with pytest.raises(ValueError, match="dim must be divisible by heads and by 4"):
        DETR(num_classes=2, dim=30, heads=4)
    with pytest.raises(ValueError, match="num_queries must be > 0"):
        DETR(num_classes=2, num_queries=0)
    with pytest.raises(ValueError, match="images must have 4 dimensions"):
        DETR(num_classes=2)(torch.zeros(1, 32, 32))
    with pytest.raises(ValueError, match="threshold must be in"):
        detect(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4), threshold=1.5)
    with pytest.raises(ValueError, match="boxes must be"):
        detect(torch.zeros(1, 2, 3), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="same number of images, got 1, 2 and 2"):
        average_precision([_det([], [], [])], [torch.zeros(0)] * 2, [torch.zeros(0, 4)] * 2, 1)
    with pytest.raises(ValueError, match="iou_threshold must be in"):
        average_precision([], [], [], 1, iou_threshold=0.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_set_loss_works_in_the_given_dtype_and_without_objects(dtype):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, 3, generator=g, dtype=dtype, requires_grad=True)
    boxes = (torch.rand(2, 4, 4, generator=g, dtype=dtype) * 0.4 + 0.3).requires_grad_(True)
    labels = [torch.tensor([1]), torch.zeros(0, dtype=torch.int64)]  # second image: no object
    targets = [torch.tensor([[0.5, 0.5, 0.2, 0.2]], dtype=dtype), torch.zeros(0, 4, dtype=dtype)]
    losses = set_loss(logits, boxes, labels, targets)
    assert all(v.dtype == dtype and torch.isfinite(v) for v in losses.values())
    losses["total"].backward()
    assert logits.grad is not None and boxes.grad is not None
    empty = set_loss(logits, boxes, [labels[1]] * 2, [targets[1]] * 2)  # no object anywhere
    assert empty["l1"] == 0 and empty["giou"] == 0 and empty["class"] > 0

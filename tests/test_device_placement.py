"""Every model's forward pass keeps its tensors on the model's device.

A GPU run fails when a forward pass builds a tensor on the CPU (a mask, a
position index, a noise draw) and combines it with the model's. Without a
GPU the meta device plays the part: a module built under
``torch.device("meta")`` has shapes but no data, and an element-wise
operation between a meta tensor and a CPU tensor raises, exactly as one
between a CUDA tensor and a CPU tensor would. So each forward below runs on
the meta device; a tensor created on the CPU along the way fails the test.

Input checks that read values (token ids within the vocabulary) skip meta
tensors, which have none. The recurrent encoder-decoder is not here: packing
padded sequences needs the lengths' values, on the CPU by PyTorch's rule.
"""

from __future__ import annotations

import pytest
import torch

from snippets.cnn.densenet import DenseNet
from snippets.cnn.efficientnet import EfficientNet
from snippets.cnn.inception import googlenet, inception_v3
from snippets.cnn.mobilenet import mobilenet_v2, mobilenet_v3_large
from snippets.cnn.resnet import resnet18
from snippets.generative.diffusion import NoisePredictor
from snippets.generative.stylegan import StyleGenerator
from snippets.generative.vae import VAE
from snippets.llm.model import ModernLM
from snippets.transformer_family.bert import BertConfig, BertForClassification, BertForMaskedLM
from snippets.transformer_family.next_sentence import BertForPreTraining
from snippets.transformer_family.t5 import T5, T5Config
from snippets.transformers.gpt import GPT
from snippets.transformers.masked_lm import MaskedLM
from snippets.transformers.transformer import Seq2SeqTransformer
from snippets.vision_transformers.captioning import Captioner
from snippets.vision_transformers.detr import DETR
from snippets.vision_transformers.vit import ViT

META = torch.device("meta")
BERT = BertConfig(vocab_size=50, max_positions=16, d_model=32, num_layers=1, nhead=4,
                  dim_feedforward=64)  # fmt: skip
T5_TINY = T5Config(vocab_size=50, d_model=32, num_layers=1, num_decoder_layers=1, num_heads=4,
                   d_kv=8, d_ff=64)  # fmt: skip


def ids(*shape: int, high: int = 50) -> torch.Tensor:
    return torch.randint(1, high, shape, device=META)


def images(n: int, c: int, side: int) -> torch.Tensor:
    return torch.randn(n, c, side, side, device=META)


#: name → (builder, inputs): both called with the default device set to meta
CASES = {
    "gpt": (lambda: GPT(50, context=16, d_model=32, nhead=4, num_layers=1), lambda: (ids(2, 9),)),
    "masked_lm": (
        lambda: MaskedLM(50, context=16, d_model=32, nhead=4, num_layers=1),
        lambda: (ids(2, 9),),
    ),
    "seq2seq_transformer": (
        lambda: Seq2SeqTransformer(50, 40, d_model=32, nhead=4),
        lambda: (ids(2, 7), ids(2, 5, high=40)),
    ),
    "bert_mlm": (lambda: BertForMaskedLM(BERT), lambda: (ids(2, 9),)),
    "bert_classifier": (lambda: BertForClassification(BERT, 3), lambda: (ids(2, 9),)),
    "bert_pretraining": (
        lambda: BertForPreTraining(BERT),
        lambda: (ids(2, 9), torch.zeros(2, 9, dtype=torch.int64, device=META)),
    ),
    "t5": (lambda: T5(T5_TINY), lambda: (ids(2, 9), ids(2, 6))),
    "modern_lm": (
        lambda: ModernLM(50, dim=32, layers=1, heads=4, kv_heads=2, context=16),
        lambda: (ids(2, 9),),
    ),
    "vit": (
        lambda: ViT(image_size=16, patch_size=4, dim=32, depth=1, heads=4),
        lambda: (images(2, 1, 16),),
    ),
    "detr": (
        lambda: DETR(num_classes=3, dim=32, heads=4, encoder_layers=1, decoder_layers=1),
        lambda: (images(2, 1, 32),),
    ),
    "captioner": (
        lambda: Captioner((8, 24), patch_size=4, d_model=32, nhead=4),
        lambda: (torch.randn(2, 1, 8, 24, device=META), ids(2, 5, high=10)),
    ),
    "noise_predictor": (
        lambda: NoisePredictor(2),
        lambda: (torch.randn(4, 2, device=META), ids(4, high=100)),
    ),
    "stylegan": (lambda: StyleGenerator(), lambda: (torch.randn(2, 32, device=META),)),
    "vae": (lambda: VAE(), lambda: (images(2, 1, 8),)),
    "resnet18": (resnet18, lambda: (images(2, 3, 64),)),
    "densenet": (
        lambda: DenseNet((2, 2), growth=4, stem_channels=8, bn_size=2),
        lambda: (images(2, 3, 32),),
    ),
    "googlenet": (lambda: googlenet(aux_heads=True), lambda: (images(2, 3, 64),)),
    "inception_v3": (inception_v3, lambda: (images(2, 3, 299),)),
    "mobilenet_v2": (mobilenet_v2, lambda: (images(2, 3, 64),)),
    "mobilenet_v3": (mobilenet_v3_large, lambda: (images(2, 3, 64),)),
    "efficientnet": (EfficientNet, lambda: (images(2, 3, 64),)),
}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_stays_on_the_models_device(name, mode):
    build, inputs = CASES[name]
    torch.manual_seed(0)
    with META:
        model = build().train(mode == "train")
        args = inputs()
    assert all(p.device == META for p in model.parameters())
    out = model(*args)
    leaves = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
    assert leaves and all(t.device == META for t in leaves)


def test_a_cpu_tensor_made_in_forward_is_caught():
    # what the test relies on: mixing a CPU tensor into a meta forward raises
    class Leaky(torch.nn.Linear):
        def forward(self, x):
            return super().forward(x) + torch.ones(self.out_features)  # built on the CPU

    with META:
        model, x = Leaky(3, 4), torch.randn(2, 3)
    with pytest.raises(RuntimeError, match="device"):
        model(x)

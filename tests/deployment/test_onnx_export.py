import onnx
import pytest
import torch

from snippets.cnn.lenet import DigitsCNN
from snippets.deployment.onnx_export import (
    OPSET,
    export_onnx,
    input_shape,
    max_abs_difference,
    median_latency,
    ort_session,
    run_ort,
)
from snippets.fundamentals.nn_basics import make_mlp
from snippets.transformers.transformer import Encoder, EncoderLayer


@pytest.fixture(scope="module")
def exported():
    """The site's MLP, CNN and Transformer encoder, exported once for all tests."""
    torch.manual_seed(0)
    cnn = DigitsCNN(channels=(8, 16))
    cnn.train()
    cnn(torch.randn(32, 1, 8, 8))  # give batch norm non-trivial running statistics
    models = {
        "mlp": (make_mlp([64, 32, 10], dropout=0.2), torch.randn(4, 64), {0: "batch"}),
        "cnn": (cnn, torch.randn(4, 1, 8, 8), {0: "batch"}),
        "encoder": (
            Encoder(EncoderLayer(16, 2, 32, dropout=0.1), 2),
            torch.randn(4, 7, 16),
            {0: "batch", 1: "sequence"},
        ),
    }
    return {
        name: (model, export_onnx(model, x, dynamic), dynamic)
        for name, (model, x, dynamic) in models.items()
    }


@pytest.mark.parametrize(
    "name, shapes",
    [
        ("mlp", [(1, 64), (4, 64), (33, 64)]),
        ("cnn", [(1, 1, 8, 8), (17, 1, 8, 8)]),
        ("encoder", [(1, 3, 16), (4, 7, 16), (5, 19, 16)]),
    ],
)
def test_onnxruntime_matches_pytorch_on_every_size(exported, name, shapes):
    model, proto, _ = exported[name]
    session = ort_session(proto)
    for shape in shapes:
        x = torch.randn(*shape)
        with torch.no_grad():
            expected = model.eval()(x)
        torch.testing.assert_close(run_ort(session, x), expected, rtol=1e-4, atol=1e-5)
        assert max_abs_difference(model, session, x) < 1e-4


def test_dynamic_axes_are_named_and_the_rest_fixed(exported):
    assert input_shape(exported["mlp"][1]) == ["batch", 64]
    assert input_shape(exported["cnn"][1]) == ["batch", 1, 8, 8]
    assert input_shape(exported["encoder"][1]) == ["batch", "sequence", 16]
    for _, proto, _ in exported.values():
        onnx.checker.check_model(proto)
        assert {op.domain: op.version for op in proto.opset_import}[""] == OPSET


def test_fixed_axis_rejects_other_sizes(exported):
    session = ort_session(exported["mlp"][1])
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        run_ort(session, torch.randn(2, 65))


def test_export_puts_the_model_in_eval_mode(exported):
    # the MLP was created in training mode, with dropout
    assert not exported["mlp"][0].training


def test_bad_input(exported):
    model = make_mlp([8, 4])
    with pytest.raises(ValueError, match="dynamic axis must be in \\[0, 2\\).*got 2"):
        export_onnx(model, torch.randn(2, 8), {2: "batch"})
    with pytest.raises(TypeError, match="example must be a torch.Tensor"):
        export_onnx(model, [[0.0] * 8])
    session = ort_session(exported["mlp"][1])
    with pytest.raises(TypeError, match="x must have dtype torch.float32"):
        run_ort(session, torch.zeros(2, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match="repeats must be > 0"):
        median_latency(lambda: None, repeats=0)


def test_median_latency_is_robust_to_one_slow_call():
    calls = iter([0.0] * 5 + [0.05] + [0.0] * 8)
    import time

    def fn():
        time.sleep(next(calls))

    assert median_latency(fn, repeats=9, warmup=5) < 0.01


def test_tiny_mlp_exports_to_gemm_relu_gemm(tmp_path):
    """The page's example: each aten.linear becomes a Gemm, the weights initializers.

    The file written by ``path=`` loads into onnxruntime and gives the model's outputs.
    """
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    path = tmp_path / "tiny.onnx"
    proto = export_onnx(model, torch.randn(2, 4), {0: "batch"}, path=path)
    assert [node.op_type for node in proto.graph.node] == ["Gemm", "Relu", "Gemm"]
    assert sorted(init.name for init in proto.graph.initializer) == sorted(
        name for name, _ in model.named_parameters()
    )
    assert input_shape(proto) == ["batch", 4]
    session = ort_session(path)
    x = torch.randn(6, 4)
    torch.testing.assert_close(run_ort(session, x), model(x).detach())

import pytest
import torch

from snippets.common.device import pick_device, preset, to_device


def test_pick_device_defaults_to_cpu_here(monkeypatch):
    monkeypatch.delenv("T2T_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert pick_device().type == expected


def test_pick_device_honours_environment(monkeypatch):
    monkeypatch.setenv("T2T_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")


def test_pick_device_rejects_unknown_kind():
    with pytest.raises(ValueError, match="prefer must be one of"):
        pick_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_pick_device_unavailable_raises():
    with pytest.raises(RuntimeError, match="not available"):
        pick_device("cuda")


def test_preset_picks_by_device():
    assert preset(cpu=1, gpu=2, device="cpu") == 1
    assert preset(cpu=1, gpu=2, device="cuda") == 2
    assert preset(cpu=1, gpu=2, device=torch.device("mps")) == 2


def test_to_device_moves_nested_structures():
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), 3), "name": "digits"}
    moved = to_device(batch, "cpu")
    assert moved["x"].device.type == "cpu" and moved["pair"][1] == 3 and moved["name"] == "digits"
    assert isinstance(moved["pair"], tuple)
    module = to_device(torch.nn.Linear(2, 2), "cpu")
    assert next(module.parameters()).device.type == "cpu"


def test_torch_threads_sets_and_restores_the_count():
    from snippets.common.device import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        with torch_threads(0):
            pass

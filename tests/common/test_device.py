import pytest
import torch

from snippets.common.data import Split
from snippets.common.device import pick_device, preset, smoke_cut, to_device, torch_threads


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
    # "meta" is a device every PyTorch has: a tensor that reaches it really moved.
    batch = {
        "x": torch.ones(2),
        "pair": (torch.zeros(1), 3),
        "name": "digits",
        "list": [torch.ones(1)],
    }
    moved = to_device(batch, "meta")
    assert moved["x"].device.type == "meta" and moved["pair"][0].device.type == "meta"
    assert moved["list"][0].device.type == "meta" and isinstance(moved["list"], list)
    assert moved["pair"][1] == 3 and moved["name"] == "digits"
    assert isinstance(moved["pair"], tuple)
    module = to_device(torch.nn.Linear(2, 2), "meta")
    assert next(module.parameters()).device.type == "meta"


def test_to_device_keeps_named_tuples():
    split = Split(torch.ones(2, 1), torch.zeros(2), torch.ones(1, 1), torch.zeros(1))
    moved = to_device(split, "meta")
    assert type(moved) is Split
    assert all(t.device.type == "meta" for t in moved)
    assert moved.x_test.shape == (1, 1)


def test_torch_threads_sets_and_restores_the_count():
    before = torch.get_num_threads()
    other = before + 1  # differs from the current count, so a do-nothing version fails
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pytest.raises(KeyError):  # restored even when the block raises
        with torch_threads(other):
            raise KeyError("boom")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n must be a positive int, got 0"):
        with torch_threads(0):
            pass


def test_preset_in_smoke_mode_takes_gpu_sizes_and_smoke_lengths(monkeypatch):
    monkeypatch.setenv("T2T_SMOKE", "1")
    assert preset(cpu=1, gpu=2, device="cpu") == 2
    assert preset(cpu=1, gpu=2, device="cpu", smoke=3) == 3
    assert preset(cpu=(1, 1), gpu=(2, 2), smoke=None) == (2, 2)
    monkeypatch.setenv("T2T_SMOKE", "0")
    assert preset(cpu=1, gpu=2, device="cpu", smoke=3) == 1
    monkeypatch.delenv("T2T_SMOKE")
    assert preset(cpu=1, gpu=2, device="cpu", smoke=3) == 1
    assert preset(cpu=1, gpu=2, device="cuda", smoke=3) == 2


def test_smoke_cut_keeps_a_slice_only_in_smoke_mode(monkeypatch):
    data = torch.arange(10)
    monkeypatch.delenv("T2T_SMOKE", raising=False)
    assert torch.equal(smoke_cut(data, 3), data)
    monkeypatch.setenv("T2T_SMOKE", "1")
    assert torch.equal(smoke_cut(data, 3), torch.arange(3))
    assert smoke_cut("abcdef", 2) == "ab"

"""Deployment: ONNX export and distributed data-parallel training."""

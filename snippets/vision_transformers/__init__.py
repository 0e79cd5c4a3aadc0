"""Vision Transformers and detection: ViT, boxes and IoU, the Hungarian
matcher and DETR.
"""

"""Convolutional networks: convolution and pooling from scratch, LeNet-5,
AlexNet, ResNet and EfficientNet.
"""

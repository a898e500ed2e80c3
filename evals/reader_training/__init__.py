"""Training the reading model (`make reader`): data, the training loop, ONNX export, model card."""

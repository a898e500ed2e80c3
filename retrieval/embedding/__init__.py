"""Dense embeddings: what every embedder shares, the torch backend and the ONNX backend.

`base` holds the settings and the `Embedder` protocol; `onnx_backend` runs the model on ONNX
Runtime; `embedder` holds the sentence-transformers backend and `load_embedder`, which picks a
backend from the settings. An import-linter contract keeps that order one way.
"""

__all__ = ["base", "embedder", "onnx_backend"]

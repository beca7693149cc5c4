"""Offline training (PyTorch, scikit-learn): data sets with splits, the CNN, the feature
baseline, evaluation reports and ONNX export. Never imported at serving time."""

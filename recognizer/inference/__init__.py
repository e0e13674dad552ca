"""The inference core: models, predictions and their explanations, without Django."""

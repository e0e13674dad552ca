"""The inference core: models, their runtime and the one classification pipeline. Imports no Django."""

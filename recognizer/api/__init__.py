"""The JSON API, its OpenAPI document and docs page."""

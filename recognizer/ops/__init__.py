"""Serving concerns: error responses, upload limits, rate limit, middleware, health, checks."""

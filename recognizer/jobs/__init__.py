"""Batch jobs: many photos, or one zip archive of them, classified as one job."""

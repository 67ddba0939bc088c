"""Terrain's Python client for analysts: a form's submissions as pandas DataFrames.

>>> from terrain_client import Client
>>> terrain = Client("https://terrain.example.org", token="…")   # a feed or session token
>>> plots = terrain.submissions("beguedo_slm")
>>> plots.main.head()          # one row per survey
>>> plots.repeats["crop"]      # one row per crop, `_submission__uuid` links it to its survey
"""

from .client import Client, Form, IncrementalPull, Project, Submissions, TerrainError

__all__ = ["Client", "Form", "IncrementalPull", "Project", "Submissions", "TerrainError"]

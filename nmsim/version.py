"""nmsim's version (pyproject.toml's ``version``), importable without the API facade."""
__version__ = "0.1.0"

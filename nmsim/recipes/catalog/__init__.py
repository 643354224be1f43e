"""The recipes, one module each; each names its class ``RECIPE`` (see :class:`nmsim.recipes.base.Recipe` for what
a recipe declares). Adding a recipe is one new module here: :mod:`nmsim.recipes.registry` finds it."""

"""Spec file schemas: one declarative schema per file kind (:mod:`.nodes`), from which both the loaders' checks
(through :class:`.reader.SpecReader`: one-line errors naming the file and field) and the published JSON Schemas
(:mod:`.publish`; ``python -m nmsim.schema`` rewrites them) come."""

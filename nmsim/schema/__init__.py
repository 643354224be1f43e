"""Input file schemas: one declaration per file kind (spec files, runs, measurements, memory runs; workloads in
:mod:`nmsim.graph.config`), written in the schema nodes of :mod:`nmsim.io.spec_nodes`, from which both the
loaders' checks (through :class:`nmsim.io.spec_reader.SpecReader`: one-line errors naming the file and field, in
the same words for every file) and the published JSON Schemas (:mod:`.publish`; ``python -m nmsim.schema``
rewrites them) come."""

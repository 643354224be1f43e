"""``cache clear``: the files nmsim keeps in its cache folder, removed: traced graphs, kept answers, the report's
kept cost frames, its quick trainer sweep's runs, the data files kept parsed
and the package's remembered fingerprints (only files nmsim wrote there, never through a linked folder)."""
from __future__ import annotations

from pathlib import Path


def clear_cache() -> list[tuple[str, Path, int, int]]:
    """(what, folder, files, bytes) removed, per cache folder; a linked folder is an error before anything goes."""
    from nmsim import keeping, kept_answers
    from nmsim.io import kept_parses
    from nmsim.graph import cache
    from nmsim.io.write import linked_cache_folder, remove_owned
    from nmsim.report import kept_costs, quick_sweep

    parts = (("cached graph file(s)", cache.graphs_dir(), cache.clear),
             ("kept answer(s)", kept_answers.folder(), kept_answers.clear),
             ("kept report cost file(s)", kept_costs.folder(), kept_costs.clear),
             ("trainer run file(s)", cache.directory() / quick_sweep.FOLDER, quick_sweep.clear_cache),
             ("kept parse(s) of data files", kept_parses.folder(), None),
             ("remembered fingerprint(s)", cache.directory() / keeping.FINGERPRINTS, None))
    for _, folder, _ in parts:
        if folder.is_symlink():
            raise linked_cache_folder(folder)
    entries = {kept_parses.folder(): (kept_parses.ENTRY_RE, kept_parses.TEMP_RE),
               cache.directory() / keeping.FINGERPRINTS: (keeping.FINGERPRINT_RE, keeping.FINGERPRINT_TEMP_RE)}

    def owned(folder):   # files named as the module that keeps them names them
        return lambda p: p.parent == folder and any(r.match(p.name) for r in entries[folder])
    return [(what, folder, *(clear() if clear else remove_owned(folder, owned(folder))))
            for what, folder, clear in parts]

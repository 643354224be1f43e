"""Evidence from the reference trainer: a paired-seed protocol over recipes x patterns, t intervals of paired
differences (:mod:`.stats`), iso-FLOP analysis of training curves (:mod:`.isoflop`), the paper's training-FLOP
claims put to the runs (:mod:`.claims`), and the written summaries (:mod:`.summary`)."""

"""The original encoder-decoder Transformer (Vaswani et al. 2017, arXiv 1706.03762): sinusoidal positions,
scaled logits; workload YAML only."""
from nmsim.graph.families import Family

FAMILY = Family("enc-dec", "Vaswani et al. 2017, arXiv 1706.03762", enc_dec=True)

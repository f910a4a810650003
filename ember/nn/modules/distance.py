"""Similarity and distance layers: CosineSimilarity, PairwiseDistance."""
from .module import Module
from .. import functional as F

__all__ = ['CosineSimilarity', 'PairwiseDistance']


class CosineSimilarity(Module):
    """Cosine similarity of x1 and x2 along ``dim`` (broadcast together; ``dim`` removed):
    x1.x2 / (max(||x1||, eps) * max(||x2||, eps))."""
    __constants__ = ['dim', 'eps']

    def __init__(self, dim=1, eps=1e-08):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last dim: (N, D) x (N, D) -> (N,) (or (N, 1) with
    ``keepdim``); (D,) inputs give a 0-d result."""
    __constants__ = ['norm', 'eps', 'keepdim']

    def __init__(self, p=2.0, eps=1e-06, keepdim=False):
        super().__init__()
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

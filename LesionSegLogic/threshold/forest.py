"""The merge forest of a probability map: how its connected components join as the threshold falls.

Candidates are the voxels with ``p ≥ floor``, ranked by decreasing probability (ties: raster order), so the
mask at any ``t ≥ floor`` is the rank prefix ``[0, k(t))``. Two neighbouring candidates ``a, b`` are joined
from the moment both are in the mask, i.e. for every prefix longer than ``max(rank_a, rank_b)``. A minimum
spanning forest of the neighbour graph under the weight ``max(rank_a, rank_b)`` (Kruskal's cut property)
keeps, for *every* prefix length ``k``, exactly the connectivity of the full graph restricted to ``[0, k)``:
the components at ``t`` are the connected components of the forest edges of weight ``< k(t)``. The forest
has fewer edges than candidates, and it is computed once (``scipy.sparse.csgraph``, compiled); all weights
are integer ranks, so no threshold is ever compared in anything but the original double precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph


@dataclass(frozen=True)
class MergeForest:
    """Candidates in rank order and the forest edges sorted by the prefix length that activates them."""

    flat: np.ndarray  # (n,) int64 flat (raster) indices of the candidates, by rank
    probability: np.ndarray  # (n,) float64, non-increasing
    edge_a: np.ndarray  # (e,) int32 ranks
    edge_b: np.ndarray  # (e,) int32 ranks
    edge_level: np.ndarray  # (e,) int64 max(rank_a, rank_b), non-decreasing

    def prefix(self, threshold: float) -> int:
        """Number of candidates with ``p ≥ threshold``."""
        return int(np.searchsorted(-self.probability, -np.float64(threshold), side="right"))

    def components(self, k: int) -> tuple[int, np.ndarray]:
        """``(n_components, label per rank < k)`` of the mask made of the first ``k`` candidates."""
        if k == 0:
            return 0, np.zeros(0, dtype=np.int32)
        e = int(np.searchsorted(self.edge_level, k, side="left"))
        graph = sparse.csr_matrix(
            (np.ones(e, dtype=np.int8), (self.edge_a[:e], self.edge_b[:e])), shape=(k, k)
        )
        n, labels = csgraph.connected_components(graph, directed=False)
        return int(n), labels


def forward_offsets(structure: np.ndarray) -> list[tuple[int, int, int]]:
    """Half of the neighbourhood of ``structure`` (each neighbour pair is visited once)."""
    offsets = np.argwhere(structure) - 1
    return [(int(o[0]), int(o[1]), int(o[2])) for o in offsets if tuple(o) > (0, 0, 0)]


def build_forest(probability: np.ndarray, floor: float, structure: np.ndarray) -> MergeForest:
    """The merge forest of the voxels with ``probability ≥ floor`` under the neighbourhood ``structure``."""
    shape = probability.shape
    flat_p = probability.ravel()
    candidates = np.flatnonzero(flat_p >= np.float64(floor))  # ascending raster order
    values = flat_p[candidates].astype(np.float64)
    order = np.argsort(-values, kind="stable")
    rank = np.empty(candidates.size, dtype=np.int64)
    rank[order] = np.arange(candidates.size)
    n = candidates.size
    if n == 0:
        empty = np.zeros(0, dtype=np.int32)
        return MergeForest(candidates, values, empty, empty, np.zeros(0, dtype=np.int64))
    z, y, x = np.unravel_index(candidates, shape)
    rows, cols = [], []
    for dz, dy, dx in forward_offsets(structure):
        nz, ny, nx = z + dz, y + dy, x + dx
        inside = (nz >= 0) & (nz < shape[0]) & (ny >= 0) & (ny < shape[1]) & (nx >= 0) & (nx < shape[2])
        idx = np.flatnonzero(inside)
        neighbour = (nz[idx] * shape[1] + ny[idx]) * shape[2] + nx[idx]
        pos = np.minimum(np.searchsorted(candidates, neighbour), n - 1)
        hit = candidates[pos] == neighbour
        rows.append(rank[idx[hit]])
        cols.append(rank[pos[hit]])
    a = np.concatenate(rows)
    b = np.concatenate(cols)
    weight = np.maximum(a, b).astype(np.float64) + 1.0  # > 0: csgraph ignores zero weights
    graph = sparse.csr_matrix((weight, (a, b)), shape=(n, n))
    tree = csgraph.minimum_spanning_tree(graph).tocoo()
    level = tree.data.astype(np.int64) - 1
    by_level = np.argsort(level, kind="stable")
    return MergeForest(
        flat=candidates[order],
        probability=values[order],
        edge_a=tree.row[by_level].astype(np.int32),
        edge_b=tree.col[by_level].astype(np.int32),
        edge_level=level[by_level],
    )

"""Lay out a job graph for drawing: columns by depth (longest chain of dependencies),
rows in provider order, edges as SVG paths."""

from __future__ import annotations

from dataclasses import dataclass

NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 200, 46, 56, 14, 8


@dataclass
class Node:
    job: object
    x: int
    y: int


@dataclass
class Edge:
    path: str


@dataclass
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int


def depths(deps: dict[str, list[str]]) -> dict[str, int]:
    """Depth of every node; unknown dependencies are ignored and cycles are cut."""
    memo: dict[str, int] = {}

    def depth(node: str, path: frozenset[str]) -> int:
        if node in memo:
            return memo[node]
        parents = [d for d in deps.get(node, []) if d in deps and d not in path]
        value = 1 + max((depth(p, path | {node}) for p in parents), default=-1)
        memo[node] = value
        return value

    for node in deps:
        depth(node, frozenset())
    return memo


def layout(jobs: list) -> Layout:
    deps = {j.external_id: [str(d) for d in (j.depends_on or []) if isinstance(d, (str, int))] for j in jobs}
    level = depths(deps)
    rows_used: dict[int, int] = {}
    nodes: dict[str, Node] = {}
    for job in jobs:
        col = level[job.external_id]
        row = rows_used.get(col, 0)
        rows_used[col] = row + 1
        nodes[job.external_id] = Node(job, PAD + col * (NODE_W + COL_GAP), PAD + row * (NODE_H + ROW_GAP))
    edges = []
    for job in jobs:
        end = nodes[job.external_id]
        for dep in deps[job.external_id]:
            start = nodes.get(dep)
            if start is None:
                continue
            x1, y1 = start.x + NODE_W, start.y + NODE_H // 2
            x2, y2 = end.x, end.y + NODE_H // 2
            mid = (x1 + x2) // 2
            edges.append(Edge(f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}"))
    width = PAD * 2 + (max(level.values(), default=0) + 1) * (NODE_W + COL_GAP) - COL_GAP
    height = PAD * 2 + max(rows_used.values(), default=1) * (NODE_H + ROW_GAP) - ROW_GAP
    return Layout(list(nodes.values()), edges, width, height)

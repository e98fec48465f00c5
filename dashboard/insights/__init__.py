"""Insights: trends, flaky jobs, queue wait against agent capacity and DORA figures,
read from rollups that the sync keeps current (see ``rollup``)."""

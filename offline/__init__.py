"""Offline tools: training, evaluation, form agreement, the landmark cache, keyframes and benchmarks."""

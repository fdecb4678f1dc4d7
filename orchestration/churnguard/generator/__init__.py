"""Synthetic data generator: a simulated customer base and its raw CRM, billing and support export.

    from churnguard.generator import generate
    result = generate(customers=1000, days=365, seed=42, out_dir=Path("data/raw"))

or ``python -m churnguard.generator --customers 1000 --days 365 --seed 42 --out data/raw``.
See ``docs/GENERATOR.md`` for how the simulated world works.
"""

from .core import GenerateResult, build_parser, generate, main
from .params import GeneratorParams

__all__ = ["GenerateResult", "GeneratorParams", "build_parser", "generate", "main"]

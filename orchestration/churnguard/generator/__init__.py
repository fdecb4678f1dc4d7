"""Synthetic data generator: a simulated customer base and its raw CRM, billing and support export.

    from churnguard.generator import generate
    result = generate(customers=1000, days=365, seed=42, out_dir=Path("data/raw"))

or ``python -m churnguard.generator --customers 1000 --days 365 --seed 42 --out data/raw``.
``world="order_shop"`` (``--world order_shop``) selects another simulated customer base.
See ``docs/GENERATOR.md`` for how the simulated world works.
"""

from .core import GenerateResult, build_parser, generate, main
from .params import GeneratorParams
from .worlds import DEFAULT_WORLD, WORLDS, world_params

__all__ = ["DEFAULT_WORLD", "GenerateResult", "GeneratorParams", "WORLDS", "build_parser", "generate", "main",
           "world_params"]

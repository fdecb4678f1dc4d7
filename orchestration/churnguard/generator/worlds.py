"""Named worlds: presets of ``GeneratorParams`` for customer bases that differ the way real ones do.

``saas`` is the default world (B2B SaaS, mostly subscriptions). The others change one
aspect of it at a time, so a health score can be checked on data it was not tuned to:

- ``heavy_usage``: a product used many times a day, with usage levels that differ about
  100x between customers (the 95th/5th percentile ratio of a customer's login rate);
- ``order_shop``: an e-commerce purchase log: only order customers, purchase rates that
  differ widely between customers, and bursty, irregular gaps between orders;
- ``steady_churners``: most churners (75 %) behave normally until they leave, and there
  are more harmless dips (false-alarm material);
- ``tenure_hazard``: the churn hazard runs 4.5x faster while tenure < 180 days, so new
  customers' realised churn is about 3x (2-3.5x) that of established ones (a decision becomes
  a churn only at the next billing boundary); and some monthly subscribers move to annual
  billing at a 15-25 % lower MRR, independent of their health.

The numbers describe how real customer bases look; none was chosen to make the health
score look good. See docs/GENERATOR.md for the table of worlds and the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from .params import GeneratorParams

DEFAULT_WORLD = "saas"


@dataclass(frozen=True)
class World:
    name: str
    summary: str
    params: GeneratorParams
    suggested_customers: int  # for a year: keeps the files near the default world's size at 1000 customers


WORLDS: dict[str, World] = {w.name: w for w in (
    World("saas", "B2B SaaS, mostly subscriptions (the default world)", GeneratorParams(), 1000),
    World("heavy_usage",
          "a product used many times a day; usage levels vary ~100x between customers",
          GeneratorParams(logins_per_user_day=4.5,  # 15x the default for the median customer
                          login_sigma=1.4),  # exp(2 * 1.645 * 1.4) ~ 100: the p95/p5 ratio of usage levels
          100),
    World("order_shop",
          "an e-commerce purchase log: order customers only, irregular bursty purchase rhythms",
          GeneratorParams(segment_shares=(0.01, 0.09, 0.90),
                          business_model_shares=((0.0, 0.0, 1.0),) * 3,
                          monthly_churn_rate=0.03,
                          pause_per_year=0.30,  # shoppers go quiet for a few months and come back
                          orders_per_day=(0.10, 0.06, 0.035),  # median SMB buyer: about one order a month
                          order_rate_sigma=1.0, order_rate_floor=0.0,  # rates differ ~25x (p95/p5)
                          order_burst_shape=0.35, order_burst_days=30.0,  # gamma-Poisson shopping spells
                          order_amount_median=(900.0, 250.0, 70.0),
                          logins_per_user_day=0.08,  # a shop account is signed into now and then
                          outbound_per_weekday=(0.05, 0.02, 0.004),
                          inbound_per_weekday=(0.05, 0.02, 0.006),
                          tickets_per_day=(0.03, 0.012, 0.005),
                          intervention_prob=(0.40, 0.20, 0.05)),
          1000),
    World("steady_churners",
          "most churners behave steadily until they leave; more harmless dips",
          GeneratorParams(sudden_churn_share=0.75, noise_dip_ratio=1.5),
          1000),
    World("tenure_hazard",
          "new customers churn ~3x as often; some monthly subscribers move to annual at a discount",
          GeneratorParams(young_churn_multiplier=4.5, young_tenure_days=180,
                          annual_switch_per_year=0.15, annual_switch_discount=(0.15, 0.25)),
          1000),
)}


def world_params(name: str) -> GeneratorParams:
    """The ``GeneratorParams`` of the named world; a clear error for an unknown name."""
    try:
        return WORLDS[name].params
    except KeyError:
        raise ValueError(f"unknown world {name!r}; choose one of {', '.join(WORLDS)}") from None

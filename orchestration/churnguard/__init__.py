"""churnguard: customer-health and churn-prevention warehouse."""

__version__ = "0.1.0"

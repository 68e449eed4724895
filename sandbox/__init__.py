"""mwaa-sandbox: a local AWS MWAA 2.9.2 environment."""

__version__ = "0.1.0"

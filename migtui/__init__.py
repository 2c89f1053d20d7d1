"""migtui: run PostgreSQL migration plans as guarded, monitored, reversible runbooks."""

__version__ = "0.1.0"

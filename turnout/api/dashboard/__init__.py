"""The read-only monitoring dashboard served at `/`."""

from turnout.api.dashboard.app import build_dashboard, is_dashboard_request

__all__ = ["build_dashboard", "is_dashboard_request"]

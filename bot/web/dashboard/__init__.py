"""The coaches' dashboard: cohort overview, pulse results, timelines, prompts, exports."""

from bot.web.dashboard.routes import dashboard_routes

__all__ = ["dashboard_routes"]

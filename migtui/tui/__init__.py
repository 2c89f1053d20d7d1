"""The Textual app: ``make_app(plan_path, dsn=None, target=None)`` builds it."""

from migtui.tui.app import MigtuiApp, make_app

__all__ = ["MigtuiApp", "make_app"]

"""Widgets of the migtui app. Each reusable widget carries its DEFAULT_CSS."""

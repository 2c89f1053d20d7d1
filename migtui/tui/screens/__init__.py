"""Screens and modals of the migtui app; styles in the .tcss files beside them."""

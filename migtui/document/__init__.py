"""The plan as the migration-plan template's Markdown document: export and import."""

from migtui.document.export import export_markdown
from migtui.document.importer import ImportError_, import_markdown

__all__ = ["ImportError_", "export_markdown", "import_markdown"]

"""Importers: plans from other tools' histories (Prisma Migrate)."""

"""Writes of the targets context, one module per area; import from here."""

"""Django system checks of the multi-DB layer (filled in below)."""

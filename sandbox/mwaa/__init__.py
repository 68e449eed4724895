"""What MWAA *is*, independent of how the sandbox runs it."""

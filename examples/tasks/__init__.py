"""Your task package: every module in it is imported (docs/tasks.md)."""

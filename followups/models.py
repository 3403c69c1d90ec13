"""followups: see DESIGN.md §5. Models arrive with their issue."""

"""The business users' web front door (issue 17): forms from input models, task templates."""

"""AccountOnboarding: a credit line and an active CRM account, undone together if a step fails."""

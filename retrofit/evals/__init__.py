"""The evaluation harness: scenario files run against the demo systems, scored (`retrofit eval`)."""

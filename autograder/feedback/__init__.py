"""What students read: messages (all student-facing wording), the report and its HTML."""

"""Reminders sent by the schedule: contacts' customer tasks due soon or overdue (the portal's e-mails) and users'
timesheets not submitted by Friday 14:00 in their own time zone. A package above portal and timesheets, whose
messages and rules it uses; nothing imports it (the schedule names its job by dotted path)."""

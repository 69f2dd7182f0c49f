"""Activity in people's words: audit events as sentences with their objects named and linked
(psa.activity.text). It reads every feature's models, so it sits above them all; the audit log page (admin)
and the project page's activity feed (projects) reach it through psa.core.audit.describe_events, which the
app connects at start (psa/__init__.py, _connect_features)."""

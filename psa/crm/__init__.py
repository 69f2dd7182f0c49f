"""The CRM deal-won hook's rules (SPEC §4): a signed deal from the CRM becomes an account (when new) and a project
made from the template mapped to the deal's product. The HTTP operation is psa/api/hooks.py; the settings it reads
(secret and mapping) are edited on /admin/settings (psa/admin/crm_settings.py)."""

"""What every feature shares: database helpers, access rules, errors, audit, mail, pagination."""

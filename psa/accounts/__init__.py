"""Customer accounts: the companies projects are delivered to."""

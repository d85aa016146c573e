"""Every write of the enrollment app, one module per area (keyword-only, transactional, audited)."""

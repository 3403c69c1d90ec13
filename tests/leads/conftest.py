"""Lead fixtures (make_lead, envision, gl8, autohome, price_reason) live in tests/conftest.py."""

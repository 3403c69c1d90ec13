"""Base-customer and event campaigns (issue 18): segments of owners, campaigns
with their members frozen at launch, and SMS rounds through the outbox."""

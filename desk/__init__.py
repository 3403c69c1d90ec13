"""The working screens (one top app over leads, follow-ups, telephony and KPIs).

Each screen combines several domain apps; the domain apps below know nothing
of it. Layering: dcc ← leads ← followups ← telephony ← kpi ← desk.
"""

"""Emobi as the upstream hub the hub is a platform behind: an OCPI 2.2.1 hub with its own party id that follows the
spec's hub rules (OCPI-to names the final party where there is one, the hub itself for broadcasts). The registering,
rotating and pulling are connectors/upstream's.
"""

from __future__ import annotations

from protocols.ocpi.upstream import HubRules

RULES = HubRules(name="emobi", to_hub=False, page_sizes={"locations": 100, "tokens": 100, "cdrs": 100, "tariffs": 100, "sessions": 100})

"""The v1 REST API at /api/v1/: one router per domain, all sharing :mod:`buttress.api.v1.base`."""

from __future__ import annotations

from buttress.api.v1 import (
    accounts,
    asset_graph,
    asset_io,
    assets,
    audit,
    base,
    catalogue,
    contacts,
    escalation,
    incidents,
    integrations,
    macros,
    mail,
    maintenance,
    monitoring_settings,
    monitors,
    notify,
    oncall,
    organizations,
    priority,
    sites,
    sla,
    tickets,
)

api = base.build_api()
api.add_router("/", organizations.router)
api.add_router("/", sites.router)
api.add_router("/", contacts.router)
# Before the asset router, so that /assets/export.csv is not read as /assets/{asset_id}.
api.add_router("/", asset_io.router)
api.add_router("/", assets.router)
api.add_router("/", asset_graph.router)
api.add_router("/", audit.router)
api.add_router("/", accounts.router)
# Before the ticket router, so that /tickets/priority-matrix is not read as /tickets/{ticket_id}.
api.add_router("/", priority.router)
api.add_router("/", tickets.router)
api.add_router("/", macros.router)
api.add_router("/", mail.router)
api.add_router("/", sla.router)
api.add_router("/", integrations.router)
api.add_router("/", monitors.router)
api.add_router("/", monitoring_settings.router)
api.add_router("/", maintenance.router)
api.add_router("/", escalation.router)
api.add_router("/", catalogue.router)
api.add_router("/", incidents.router)
api.add_router("/", oncall.router)
api.add_router("/", notify.router)

__all__ = ["api"]

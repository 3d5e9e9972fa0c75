"""Payloads from the alert-ingestion reference, and helpers to post and process them."""

from __future__ import annotations

import copy
import json
from typing import Any

from django.test import Client

from buttress.alerts import services, tasks
from buttress.alerts.models import Delivery, Integration
from buttress.tenancy.models import Organization

GROUP_KEY = '{}/{severity="critical"}:{alertname="HostDown", customer="acme"}'

ALERTMANAGER: dict[str, Any] = {
    "version": "4",
    "groupKey": GROUP_KEY,
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "buttress",
    "groupLabels": {"alertname": "HostDown", "customer": "acme"},
    "commonLabels": {"alertname": "HostDown", "customer": "acme", "severity": "critical"},
    "commonAnnotations": {"summary": "host unreachable"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "HostDown",
                "customer": "acme",
                "instance": "srv1:9100",
                "severity": "critical",
            },
            "annotations": {"summary": "host unreachable", "runbook_url": "https://runbooks/hd"},
            "startsAt": "2026-08-22T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": "5c2b6f1a0d3e4b77",
        }
    ],
}

GRAFANA: dict[str, Any] = {
    "receiver": "buttress",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighCPU", "grafana_folder": "infra", "severity": "warning"},
            "annotations": {"summary": "CPU above 90%"},
            "startsAt": "2026-08-22T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://grafana:3000/alerting/grafana/abc/view",
            "fingerprint": "a1b2c3d4e5f60718",
            "silenceURL": "http://grafana:3000/alerting/silence/new",
            "dashboardURL": "http://grafana:3000/d/xyz",
            "panelURL": "http://grafana:3000/d/xyz?viewPanel=2",
            "values": {"B": 93.5},
            "valueString": "[ var='B' value=93.5 ]",
        }
    ],
    "groupLabels": {"alertname": "HighCPU"},
    "commonLabels": {"alertname": "HighCPU"},
    "commonAnnotations": {},
    "externalURL": "http://grafana:3000/",
    "version": "1",
    "groupKey": '{}:{alertname="HighCPU"}',
    "truncatedAlerts": 0,
    "title": "[FIRING:1] HighCPU (infra)",
    "state": "alerting",
    "message": "**Firing**\n\nCPU above 90%",
}

PROMETHEUS: list[dict[str, Any]] = [
    {
        "labels": {"alertname": "DiskFull", "instance": "db1:9100", "severity": "warning"},
        "annotations": {"summary": "disk 95% full"},
        "startsAt": "2026-08-22T10:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=disk",
    }
]

PAGERDUTY: dict[str, Any] = {
    "event_action": "trigger",
    "dedup_key": "srv1-disk",
    "payload": {
        "summary": "Disk on srv1 is 95% full",
        "source": "srv1",
        "severity": "error",
        "timestamp": "2026-08-22T10:00:00Z",
        "component": "disk",
        "group": "storage",
        "class": "disk",
        "custom_details": {"free": "5%"},
    },
    "links": [{"href": "https://dash.example/srv1", "text": "Dashboard"}],
    "client": "monitor",
    "client_url": "https://monitor.example/srv1",
}


def payload(base: Any, **changes: Any) -> Any:
    data = copy.deepcopy(base)
    if isinstance(data, dict):
        data.update(changes)
    return data


def alert(
    name: str = "HostDown",
    instance: str = "srv1:9100",
    *,
    status: str = "firing",
    starts: str = "2026-08-22T10:00:00Z",
    severity: str = "critical",
) -> dict[str, Any]:
    """One Alertmanager alert; the fingerprint is left for buttress to compute."""
    return {
        "status": status,
        "labels": {"alertname": name, "instance": instance, "severity": severity},
        "annotations": {"summary": f"{name} on {instance}"},
        "startsAt": starts,
        "endsAt": "2026-08-22T11:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
    }


def group(*alerts: dict[str, Any], key: str = GROUP_KEY) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": key,
        "status": "firing" if firing else "resolved",
        "receiver": "buttress",
        "alerts": list(alerts),
    }


def make_integration(org: Organization, kind: str, **fields: Any) -> tuple[Integration, str]:
    issued = services.create_integration(org, actor=None, name=f"{kind} feed", kind=kind, **fields)
    return issued.integration, issued.key


def post(path: str, body: Any, *, content_type: str = "application/json") -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return Client().post(path, data=data, content_type=content_type)


def process_pending() -> int:
    """Run the processing task of every delivery not yet processed, oldest first."""
    count = 0
    for delivery in Delivery.objects.filter(process_due_at__isnull=False).order_by(
        "received_at", "pk"
    ):
        assert delivery.process_due_at is not None
        assert tasks.process_delivery.call(delivery.pk, delivery.process_due_at.isoformat())
        count += 1
    return count

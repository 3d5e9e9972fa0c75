"""Whatever JSON a sender posts, each endpoint answers a 2xx or a 4xx, and whatever it
accepted is processed without error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buttress.alerts.models import Delivery
from buttress.alerts.tests.helpers import ALERTMANAGER, PAGERDUTY, make_integration, process_pending

pytestmark = pytest.mark.django_db

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
# Valid-looking payloads with one part replaced by anything, to get past the first checks.
keys = st.sampled_from(
    ["alerts", "labels", "status", "startsAt", "endsAt", "fingerprint", "annotations", "payload"]
)


def _mutated(base: dict[str, Any], key: str, value: Any) -> Any:
    data = json.loads(json.dumps(base))
    if key in data:
        data[key] = value
    elif data.get("alerts"):
        data["alerts"][0][key] = value
    elif isinstance(data.get("payload"), dict):
        data["payload"][key] = value
    return data


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=json_values, key=keys, value=json_values)
def test_no_input_makes_a_server_error(org, body, key, value):
    integrations = {
        kind: make_integration(org, kind, rate_limit_per_minute=0)[1]
        for kind in ("alertmanager", "grafana", "prometheus", "generic", "pagerduty")
    }
    client = Client(raise_request_exception=False)
    requests = [
        (f"/hooks/alertmanager/{integrations['alertmanager']}", body),
        (f"/hooks/alertmanager/{integrations['alertmanager']}", _mutated(ALERTMANAGER, key, value)),
        (f"/hooks/grafana/{integrations['grafana']}", _mutated(ALERTMANAGER, key, value)),
        (f"/hooks/{integrations['prometheus']}/api/v2/alerts", [body]),
        (f"/hooks/generic/{integrations['generic']}", body),
        (
            "/v2/enqueue",
            _mutated({**PAGERDUTY, "routing_key": integrations["pagerduty"]}, key, value),
        ),
    ]
    for path, data in requests:
        response = client.post(path, data=json.dumps(data), content_type="application/json")

        assert response.status_code < 500, (path, data, response.content)
        assert response.status_code in (200, 202, 400), (path, data, response.content)

    process_pending()

    assert not Delivery.objects.exclude(error="").exists()

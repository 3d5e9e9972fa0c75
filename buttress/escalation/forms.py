"""The escalation policy form: the policy's fields and a fixed number of step rows.

The form only parses; what a policy may hold is the service's to say, and its errors are shown
on the field they name.
"""

from __future__ import annotations

from typing import Any

from django import forms

from buttress.accounts.models import STAFF_ROLES, Team, User
from buttress.escalation.models import (
    MAX_ACK_TIMEOUT_MINUTES,
    MAX_REPEAT,
    MAX_WAIT_MINUTES,
    EscalationPolicy,
)
from buttress.escalation.services import StepSpec
from buttress.oncall.models import Schedule
from buttress.sla.forms import organization_choices
from buttress.web.forms import Form

STEP_ROWS = 6


class PolicyForm(Form):
    organization = forms.ChoiceField(required=False)
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    repeat = forms.IntegerField(
        min_value=0, max_value=MAX_REPEAT, initial=0, help_text="Extra runs of every step."
    )
    ack_timeout = forms.IntegerField(
        label="Acknowledgement timeout (minutes)",
        min_value=1,
        max_value=MAX_ACK_TIMEOUT_MINUTES,
        required=False,
        help_text="Empty: an acknowledgement holds until the incident is resolved.",
    )
    is_default = forms.BooleanField(
        label="Default for new incidents from alerts and monitoring", required=False
    )

    def __init__(
        self,
        *args: Any,
        organizations: Any,
        schedules: Any = (),
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["organization"]
        else:
            org_field = self.fields["organization"]
            assert isinstance(org_field, forms.ChoiceField)
            org_field.choices = organization_choices(organizations, shared=True)
        people = [
            (str(u.pk), u.display_name)
            for u in User.objects.filter(role__in=STAFF_ROLES, is_active=True).order_by("email")
        ]
        teams = [(str(t.pk), t.name) for t in Team.objects.order_by("name")]
        rotas = [(str(s.pk), s.name) for s in schedules]
        for n in range(STEP_ROWS):
            self.fields[f"step_{n}_wait"] = forms.IntegerField(
                label=f"Step {n + 1}: then wait (minutes)",
                min_value=0,
                max_value=MAX_WAIT_MINUTES,
                required=False,
            )
            self.fields[f"step_{n}_users"] = forms.MultipleChoiceField(
                label=f"Step {n + 1}: page these people", choices=people, required=False
            )
            self.fields[f"step_{n}_teams"] = forms.MultipleChoiceField(
                label=f"Step {n + 1}: page these teams", choices=teams, required=False
            )
            self.fields[f"step_{n}_schedules"] = forms.MultipleChoiceField(
                label=f"Step {n + 1}: page whoever is on call on",
                choices=rotas,
                required=False,
            )

    @property
    def plain_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith("step_")]

    @property
    def step_rows(self) -> list[tuple[int, list[forms.BoundField]]]:
        return [
            (
                n + 1,
                [self[f"step_{n}_{part}"] for part in ("users", "teams", "schedules", "wait")],
            )
            for n in range(STEP_ROWS)
        ]

    def steps(self) -> list[StepSpec]:
        """The filled rows in order; a row with nobody to page is left out."""
        data = self.cleaned_data
        specs = []
        for n in range(STEP_ROWS):
            user_ids = [int(pk) for pk in data.get(f"step_{n}_users") or []]
            team_ids = [int(pk) for pk in data.get(f"step_{n}_teams") or []]
            schedule_ids = [int(pk) for pk in data.get(f"step_{n}_schedules") or []]
            if not user_ids and not team_ids and not schedule_ids:
                continue
            specs.append(
                StepSpec(
                    wait_minutes=data.get(f"step_{n}_wait") or 0,
                    users=list(User.objects.filter(pk__in=user_ids)),
                    teams=list(Team.objects.filter(pk__in=team_ids)),
                    schedules=list(Schedule.objects.filter(pk__in=schedule_ids)),
                )
            )
        return specs

    def fields_for_service(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "repeat": data["repeat"],
            "ack_timeout": data["ack_timeout"],
            "is_default": data["is_default"],
        }

    @staticmethod
    def initial_for(policy: EscalationPolicy) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": policy.name,
            "description": policy.description,
            "repeat": policy.repeat,
            "ack_timeout": policy.ack_timeout,
            "is_default": policy.is_default,
        }
        for n, step in enumerate(policy.steps.order_by("position")):
            initial[f"step_{n}_wait"] = step.wait_minutes
            initial[f"step_{n}_users"] = [str(u.pk) for u in step.users.all()]
            initial[f"step_{n}_teams"] = [str(t.pk) for t in step.teams.all()]
            initial[f"step_{n}_schedules"] = [str(s.pk) for s in step.schedules.all()]
        return initial


class StartForm(Form):
    policy = forms.ChoiceField(label="Escalation policy")

    def __init__(self, *args: Any, policies: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["policy"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(str(p.pk), p.name) for p in policies]

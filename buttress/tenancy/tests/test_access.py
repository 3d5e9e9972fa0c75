import pytest
from django.http import Http404

from buttress.tenancy import access
from buttress.testing.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_customer_user_sees_only_their_organisation(org, other_org, org_admin):
    assert list(access.organizations_for(org_admin)) == [org]


def test_other_organisation_is_not_found_for_customer(other_org, org_admin):
    with pytest.raises(Http404):
        access.get_organization_for(org_admin, other_org.pk)


def test_limited_staff_sees_only_listed_organisations(org, other_org):
    agent = UserFactory.create(role="agent")
    agent.limited_to.add(org)
    assert list(access.organizations_for(agent)) == [org]


def test_unlimited_staff_sees_every_organisation(org, other_org, agent):
    assert set(access.organizations_for(agent)) == {org, other_org}


def test_viewer_may_not_edit_cmdb(viewer):
    assert not access.can(viewer, access.Capability.EDIT_CMDB)
    assert access.can(viewer, access.Capability.VIEW_CMDB)


def test_inactive_user_sees_nothing(org):
    user = UserFactory.create(role="admin", is_active=False)
    OrganizationFactory.create()
    assert not access.organizations_for(user).exists()

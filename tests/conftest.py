import pytest
from django.contrib.auth.models import Group, Permission

from moderation.models import Room, Vendor, VendorApp
from moderation.roles import CREDENTIAL_MANAGERS, MODERATORS, SUPERVISORS, sync_roles

ZEGO_SECRET = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def make_user(django_user_model):
    # Transactional tests (browser, workers) flush the tables the data migration filled.
    sync_roles(Group, Permission)

    def make(username, role=None, **extra):
        user = django_user_model.objects.create_user(
            username=username, password="correct horse battery", is_staff=True, **extra
        )
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def moderator(make_user):
    return make_user("mia", MODERATORS)


@pytest.fixture
def supervisor(make_user):
    return make_user("sam", SUPERVISORS)


@pytest.fixture
def credential_manager(make_user):
    return make_user("cora", CREDENTIAL_MANAGERS)


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_superuser=True)


@pytest.fixture
def zego_app(db):
    app = VendorApp(name="Live ZEGO", vendor=Vendor.ZEGO, vendor_app_id="1234567890")
    app.secret = ZEGO_SECRET
    app.full_clean()
    app.save()
    return app


@pytest.fixture
def room(zego_app):
    return Room.objects.create(app=zego_app, room_id="live-1001", label="Evening show")

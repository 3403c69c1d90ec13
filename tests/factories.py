import factory

from dcc import events
from dcc.models import Store, Team, User
from dcc.roles import Role
from leads.models import VehicleModel

PASSWORD = "correct-horse-battery"


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.LazyAttribute(lambda o: f"{o.code} 4S店")
    area_code = "021"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    store = factory.SubFactory(StoreFactory)
    name = factory.Sequence(lambda n: f"电话营销{n}组")


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    name = factory.Sequence(lambda n: f"员工{n}")
    role = Role.AGENT
    store = factory.SubFactory(StoreFactory)
    team = None
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        # Saved as the staff services save, announcing it (telephony then
        # records who has the extension from when).
        if create:
            obj.save()
            events.staff_saved.send(sender=User, staff=obj, actor=None)


class VehicleModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VehicleModel
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"车型{n}")
    category = "SUV"

from django.db import transaction

from dcc import audit
from dcc.policy import require
from leads.models import VehicleModel


@transaction.atomic
def vehicle_model_create(*, actor, name: str, category: str) -> VehicleModel:
    require(actor, "org.vehicle_model.manage")
    vehicle_model = VehicleModel(name=name, category=category)
    vehicle_model.full_clean()
    audit.attribute(vehicle_model, actor=actor)
    vehicle_model.save()
    return vehicle_model

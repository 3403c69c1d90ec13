from rest_framework import serializers

from dcc.api import VisibleOrgViewSet
from leads import services
from leads.models import VehicleModel


class VehicleModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = VehicleModel
        fields = ["id", "name", "category", "is_active"]
        read_only_fields = ["is_active"]


class VehicleModelViewSet(VisibleOrgViewSet):
    queryset = VehicleModel.objects.all()
    serializer_class = VehicleModelSerializer
    capabilities = {"create": "org.vehicle_model.manage"}
    filterset_fields = ["category", "is_active"]

    def perform_create(self, serializer):
        serializer.instance = services.vehicle_model_create(
            actor=self.request.user, **serializer.validated_data
        )

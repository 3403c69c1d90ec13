"""The campaign funnel in the API (issue 18, point 7):
``GET kpi/campaign-funnels/{campaign id}/`` answers the campaign's funnel
(every step's count) and the same per caller. Campaigns outside the user's
scope are 404; roles without ``campaigns.funnel.view`` 403."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response

from dcc.api_base import ScopedViewSetMixin
from kpi import campaigns as funnels


class StepsSerializer(serializers.Serializer):
    def get_fields(self):
        return {step.key: serializers.IntegerField() for step in funnels.STEPS}


class CallerFunnelSerializer(StepsSerializer):
    def get_fields(self):
        fields = super().get_fields()
        fields["caller"] = serializers.IntegerField(allow_null=True)
        fields["name"] = serializers.CharField()
        return fields


class FunnelSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    name = serializers.CharField()
    funnel = StepsSerializer()
    by_caller = CallerFunnelSerializer(many=True)


class CampaignFunnelViewSet(ScopedViewSetMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = funnels.Campaign.objects.all()
    serializer_class = FunnelSerializer
    lookup_value_regex = r"\d+"
    capabilities = {"retrieve": "campaigns.funnel.view"}

    @extend_schema(responses={200: FunnelSerializer})
    def retrieve(self, request, pk=None):
        campaign = self.get_object()
        payload = {
            "campaign": campaign.pk,
            "name": campaign.name,
            "funnel": funnels.funnel(campaign, user=request.user),
            "by_caller": funnels.funnel_by_caller(campaign, user=request.user),
        }
        return Response(FunnelSerializer(payload).data)

"""Form pieces shared by the apps."""

from django import forms
from django.utils.translation import gettext_lazy as _

from dcc.models import Store


class StoreChoiceMixin:
    """A ``store`` field for a group administrator only; everyone else works
    in their own store and the field is removed. Call ``limit_store(user)``
    from ``__init__``."""

    @staticmethod
    def store_field():
        return forms.ModelChoiceField(
            label=_("Store"),
            queryset=Store.objects.none(),
            required=False,
            widget=forms.Select(attrs={"class": "form-select"}),
        )

    def limit_store(self, user):
        if user.sees_all_stores:
            self.fields["store"].queryset = Store.objects.visible_to(user).filter(is_active=True)
            self.fields["store"].required = user.store_id is None
            self.fields["store"].initial = user.store_id
        else:
            del self.fields["store"]

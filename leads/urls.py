from django.urls import path

from leads import views, views_assignment, views_import, views_owners

app_name = "leads"

urlpatterns = [
    path("", views.lead_list, name="list"),
    path("new/", views.lead_new, name="new"),
    path("assign/", views_assignment.assignment, name="assignment"),
    path("assign/bulk/", views_assignment.assignment_bulk, name="assignment-bulk"),
    path(
        "assign/staff/<int:pk>/absence/",
        views_assignment.assignment_absence,
        name="assignment-absence",
    ),
    path("assign/transfer/", views_assignment.assignment_transfer, name="assignment-transfer"),
    path("assign/activate/", views_assignment.assignment_activate, name="assignment-activate"),
    path(
        "assign/defeats/<int:pk>/",
        views_assignment.assignment_defeat_decision,
        name="assignment-defeat-decision",
    ),
    path("import/", views_import.lead_import, name="import"),
    path("import/template.xlsx", views_import.lead_import_template, name="import-template"),
    path("import/history/", views_import.lead_import_history, name="import-history"),
    path("import/<int:pk>/", views_import.lead_import_detail, name="import-detail"),
    path("import/<int:pk>/map/", views_import.lead_import_map, name="import-map"),
    path("import/<int:pk>/cancel/", views_import.lead_import_cancel, name="import-cancel"),
    path("import/<int:pk>/undo/", views_import.lead_import_undo, name="import-undo"),
    path("import/<int:pk>/errors.xlsx", views_import.lead_import_errors, name="import-errors"),
    path("owners/", views_owners.owner_list, name="owners"),
    path("owners/<int:pk>/flag/", views_owners.owner_flag, name="owner-flag"),
    path("owners/import/", views_owners.owner_import, name="owner-import"),
    path("owners/opt-outs/", views_owners.opt_out_list, name="opt-outs"),
]

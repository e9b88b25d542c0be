from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="backup_codes_index"),
    path("new/", views.generate, name="backup_codes_generate"),
    path("confirm/", views.confirm, name="backup_codes_confirm"),
]

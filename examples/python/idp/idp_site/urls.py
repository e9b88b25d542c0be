from django.contrib.staticfiles.views import serve
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import include, path, re_path


def home(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect("/accounts/2fa/backup-codes/" if request.user.is_authenticated else "/accounts/login/")


urlpatterns = [
    path("accounts/2fa/backup-codes/", include("backup_codes_allauth.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("allauth.idp.urls")),
    # The example serves its few static files itself (a deployment puts them
    # behind the web server); they come from the apps through the finders.
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
    path("", home),
]

import django_rq.urls
from django.contrib import admin
from django.contrib.auth.decorators import user_passes_test
from django.urls import URLPattern, include, path
from django.views.generic import RedirectView

# The queue dashboard can empty queues and delete jobs: superusers only, not every staff member
# (django-rq itself lets any staff user in).
superuser_only = user_passes_test(
    lambda user: user.is_active and user.is_superuser, login_url="admin:login"
)
queue_dashboard = [
    URLPattern(p.pattern, superuser_only(p.callback), p.default_args, p.name)
    for p in django_rq.urls.urlpatterns
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/rq/", include((queue_dashboard, "django_rq"))),
    path("admin/", admin.site.urls),
    path("", include("moderation.urls")),
]

"""Pages of the scheduling app, under /appointments/: the patient's booking flow, appointments
and waitlist (urls_patient) and the staff pages (urls_staff)."""

from carehub.scheduling import urls_patient, urls_staff

app_name = "scheduling"
urlpatterns = [*urls_patient.urlpatterns, *urls_staff.urlpatterns]

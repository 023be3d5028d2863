"""GCP worker (functions-framework / Cloud Run functions): ``escher.workers.gcp.main``.

``on_pubsub`` is the CloudEvent function for Pub/Sub deliveries, ``on_schedule`` the HTTP function Cloud
Scheduler calls. Neither imports functions_framework: the framework passes plain objects in by signature type.
"""

"""gunicorn settings; a plain ``gunicorn`` in the project root serves the production app."""

import multiprocessing
import os

wsgi_app = "myproject:create_app()"
raw_env = [f"FLASK_CONFIG={os.environ.get('FLASK_CONFIG', 'production')}"]
os.environ.setdefault("FLASK_CONFIG", "production")

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Defaults chosen by bench/ on a 2-core machine: see bench/results.md.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5
timeout = 30
graceful_timeout = 30
max_requests = 0
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

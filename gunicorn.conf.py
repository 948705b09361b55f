"""gunicorn settings; a plain ``gunicorn`` in the project root serves the production app."""

import multiprocessing
import os

os.environ.setdefault("FLASK_CONFIG", "production")
wsgi_app = "myproject:create_app()"

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Defaults chosen by bench/ on a 2-core machine (bench/results.md): gthread with one worker
# per core and 4 threads matched 4 workers' throughput at half the memory; gevent and sync
# cost more CPU per request.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5
timeout = 30
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

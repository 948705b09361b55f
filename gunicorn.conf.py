"""gunicorn settings; a plain ``gunicorn`` in the project root serves the production app.

The master reads this file before it forks: a bad configuration ends it here, with one line
naming the variable, instead of workers that fail to boot and are restarted in a loop.
"""

import contextlib
import importlib.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from types import ModuleType
from typing import Any

from flask.cli import load_dotenv

# Like `flask`: .flaskenv and .env from the current directory (or the nearest parent that has
# one), never overriding a variable already set in the environment.
load_dotenv()
os.environ.setdefault("FLASK_CONFIG", "production")


def _app_config_module() -> ModuleType:
    # By path, not `import myproject.config`: importing the package would load the whole app
    # into the master, and workers forked after a HUP reload would keep the old code.
    # The checkout's package beside this file, else the installed one (an image or a wheel
    # install copies only this file): find_spec of a top-level package does not import it.
    root = os.path.dirname(os.path.abspath(__file__))
    if not os.path.isdir(os.path.join(root, "myproject")):
        found = importlib.util.find_spec("myproject")
        assert found is not None and found.origin is not None, "myproject is not installed"
        root = os.path.dirname(os.path.dirname(found.origin))
    package = os.path.join(root, "myproject", "config")
    spec = importlib.util.spec_from_file_location(
        "_myproject_config",
        os.path.join(package, "__init__.py"),
        submodule_search_locations=[package],  # its relative imports
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _worker_module() -> ModuleType:
    # By path too, beside the config package found above (importing it imports no app code).
    config_dir = os.path.dirname(_config.__file__ or "")
    path = os.path.join(os.path.dirname(config_dir), "gunicorn_worker.py")
    spec = importlib.util.spec_from_file_location("_myproject_gunicorn_worker", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# Each worker builds its own app after the fork (no preload_app): what a process owns (its
# database pool, the tracing export thread of myproject/tracing.py) never crosses a fork.
wsgi_app = "myproject:create_app()"
keepalive = 5
graceful_timeout = 30
# Request lines up to 8 KiB reach the app, which answers a too-long query string with a 414
# problem (gunicorn's own default, 4094, answers HTML). 8190 is gunicorn's maximum, and the
# default limit_request_field_size (8190) already lets a header as long through.
limit_request_line = 8190
# GUNICORN_ACCESS_LOG: "-" (stdout, the default), a file path, or "off": no access log at all,
# which gunicorn then skips before formatting anything (about 5% of a cached read's CPU).
accesslog = (
    None
    if os.environ.get("GUNICORN_ACCESS_LOG") == "off"
    else os.environ.get("GUNICORN_ACCESS_LOG", "-")
)
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Worker model, chosen by bench/ (bench/results.md, "Worker model"): gevent. Every connection
# is a greenlet, so connections that trickle their request or sit idle on a Socket.IO
# websocket cost memory, not a thread: 50 of each leave item reads at p99 well under 1 s,
# where gthread 2x4 answered none (each such client holds a thread) and gthread 2x128 held
# them with a slower p99 and 128 threads per worker. gunicorn's gevent worker monkey-patches
# the standard library before it loads the app; nothing here imports psycopg (which supports
# gevent by itself once patched) or the app. The websocket transport runs on simple-websocket
# (gevent-websocket must not be installed: python-engineio would require its own worker).
# The class is gunicorn's own with one change (myproject/gunicorn_worker.py): the requests
# gunicorn refuses itself (400, 414, 431, 501) are answered in problem JSON, not HTML.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
# Connections per gevent worker (requests, slow clients and sockets together).
worker_connections = 1000

# No control socket unless asked for: gunicorn's default path (~/.gunicorn/gunicorn.ctl) is
# one per user, so a second instance on the machine would take over the first one's. Set
# GUNICORN_CONTROL_SOCKET to a path of this instance's own to use `gunicornc`. No pid file
# unless GUNICORN_PIDFILE names one (again one per instance).
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if not control_socket_disable:
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
pidfile = os.environ.get("GUNICORN_PIDFILE") or None

_config = _app_config_module()
worker_class = _worker_module().worker_class(worker_class)
try:
    _settings = _config.load_config()
    port = _config.env_int("PORT", 8000, minimum=1)
    # The app reads the same variable: a reservation of an Idempotency-Key older than this
    # belongs to a request gunicorn has killed.
    timeout = _config.env_int("REQUEST_TIMEOUT", 30, minimum=1)
    bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{port}"
    # One worker per core (bench/results.md). GUNICORN_THREADS applies to gthread only.
    workers = _config.env_int("WEB_CONCURRENCY", multiprocessing.cpu_count(), minimum=1)
    threads = _config.env_int("GUNICORN_THREADS", 4, minimum=1)
    # How long a worker keeps serving after SIGTERM while /health/ready already answers 503,
    # so that the load balancer stops sending traffic before the worker stops accepting it.
    drain_seconds = _config.env_int("DRAIN_SECONDS", 5)
    if drain_seconds >= graceful_timeout:
        raise _config.ConfigError(
            f"DRAIN_SECONDS must be less than the graceful timeout ({graceful_timeout} s), "
            f"got {drain_seconds}"
        )
except _config.ConfigError as exc:
    sys.exit(f"Configuration error: {exc}")


def post_fork(server: Any, worker: Any) -> None:
    """A worker told to stop while it is still booting leaves at once. Without this, a forked
    worker keeps the master's handlers until gunicorn installs its own (after gevent's monkey
    patching): a SIGTERM, SIGINT or SIGQUIT is queued in the child's copy of the master's
    queue, lost, and the worker serves on until the master kills it at ``graceful_timeout``
    (an instance stopped just after a worker was replaced took 30 s to exit). It has served
    nothing yet, so there is nothing to drain."""

    def leave(signum: int, frame: Any) -> None:
        sys.exit(0)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(signum, leave)


def post_worker_init(worker: Any) -> None:
    """On SIGTERM: readiness fails at once, the worker serves ``drain_seconds`` more, then
    stops as gunicorn would have (in-flight requests finish within ``graceful_timeout``,
    counted from the SIGTERM by the master)."""
    from myproject.readiness import is_draining, start_draining

    stop = worker.handle_exit

    def close_sockets() -> None:
        try:
            from myproject.realtime import disconnect_all

            closed = disconnect_all(worker.wsgi)
            worker.log.info("Closed %s Socket.IO connection(s)", closed)
        except Exception:
            worker.log.exception("Closing the Socket.IO connections failed")

    def stop_now(signum: int) -> None:
        # First keep new connections out of the listening socket's queue: those queued when
        # the last worker closes it are reset after nginx has sent them a request (a 502 for
        # a POST). nginx's retry meets the closed socket and goes to the next instance. The
        # handshakes under way meanwhile complete and are served: the worker accepts for
        # half a second more (myproject/listening.py).
        from myproject.listening import refuse_new_connections

        done = refuse_new_connections(worker.sockets, worker.ppid)
        worker.log.info("Listening socket: %s", done)
        # Open Socket.IO connections would hold the graceful stop open until the master kills
        # the worker: close them now (their clients reconnect to a live instance: this one
        # takes no new connection any more). Twice: the worker stops accepting up to a second
        # after stop() (its loop looks once a second), and a client that reconnected here in
        # between (where the socket could not be closed to new connections) must not hold it.
        close_sockets()
        time.sleep(0.5)  # gevent's sleep under gevent: the worker keeps running meanwhile
        stop(signum, None)
        time.sleep(1.5)
        close_sockets()
        # gthread and gevent wake themselves; the sync worker sleeps in select() on this pipe.
        with contextlib.suppress(AttributeError, OSError):
            os.write(worker.PIPE[1], b"\0")

    def drain_then_stop(signum: int, frame: Any) -> None:
        if is_draining():
            return
        start_draining()
        worker.log.info("Draining for %s s before stopping", drain_seconds)
        monkey = sys.modules.get("gevent.monkey")
        if monkey is not None and monkey.is_module_patched("threading"):
            # Under gevent this handler runs in the event loop, where starting a thread (which
            # waits for it to start) is a blocking call: schedule a greenlet instead.
            import gevent

            gevent.spawn_later(drain_seconds, stop_now, signum)
            return
        timer = threading.Timer(drain_seconds, stop_now, args=(signum,))
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, drain_then_stop)
    # As gunicorn does: SIGTERM must not interrupt a system call of a request being served.
    signal.siginterrupt(signal.SIGTERM, False)


def pre_request(worker: Any, req: Any) -> None:
    """While draining, every answer says "Connection: close": no connection nginx keeps for
    reuse is left open when the worker stops accepting (nginx drops idle ones after 4 s, before
    DRAIN_SECONDS is over), so nginx never sends a POST on a connection gunicorn is closing.
    (Not keepalive = 0: that would also cut idle connections at once, racing a request that
    nginx is sending on one of them.)"""
    from myproject.readiness import is_draining

    if is_draining():
        req.must_close = True


# --- Prometheus metrics across workers (GET /metrics, myproject/metrics.py) -------------------
# prometheus_client's multiprocess mode: each worker writes its values to files in
# PROMETHEUS_MULTIPROC_DIR and a scrape merges them. The variable must be set before a worker
# imports prometheus_client, so the master sets it when it starts, before any fork. Unset: a
# fresh temporary directory, removed when the master exits. Set: it is wiped at start, as
# prometheus_client requires (values of an earlier run would be added to this one's).
_CREATED_MARKER = ".created-by-gunicorn"  # on_exit removes only a directory made here


def on_starting(server: Any) -> None:
    # Start-up warnings once per server start, from the master (the workers' apps stay quiet).
    from _myproject_config.startup import settings_of, startup_warnings

    for message in startup_warnings(settings_of(_settings)):
        server.log.warning(message)
    # Here, not at the top of this file: `gunicorn --print-config` or `--check-config` read
    # the file too and never call on_exit. The master sets the variable before any fork.
    import glob
    import tempfile

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="myproject-metrics-")
        # A file, not a module variable: a HUP reload runs this file again.
        open(os.path.join(directory, _CREATED_MARKER), "w").close()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def child_exit(server: Any, worker: Any) -> None:
    # A dead worker's live gauges (database pool use) must stop counting in the sums.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    import shutil

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if directory and os.path.exists(os.path.join(directory, _CREATED_MARKER)):
        shutil.rmtree(directory, ignore_errors=True)

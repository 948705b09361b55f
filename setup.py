from setuptools import find_namespace_packages, setup

setup(
    name="myproject",
    version="1.0.0",
    description="A Flask JSON REST API: users and items, JWT auth, PostgreSQL, Redis.",
    # Namespace discovery: the folders without an __init__.py (migrations, migrations/versions,
    # templates/email) are part of the package too, so the wheel holds the Alembic migrations
    # (`flask db upgrade` from an installed wheel) and the email templates.
    packages=find_namespace_packages(include=["myproject", "myproject.*"]),
    include_package_data=True,
    package_data={
        "myproject.migrations": ["alembic.ini", "script.py.mako", "README"],
        "myproject.templates.email": ["*.txt", "*.html"],
    },
    python_requires=">=3.11",
    install_requires=[
        "Flask>=3.1,<3.2",
        "Flask-SQLAlchemy>=3.1,<3.2",
        "SQLAlchemy>=2.0,<2.1",
        "Flask-Migrate>=4.0,<5",
        "flask-marshmallow>=1.2,<2",
        "marshmallow>=4.0,<5",
        "marshmallow-sqlalchemy>=1.1,<2",
        "flask-smorest>=0.46,<0.48",
        "Flask-JWT-Extended>=4.6,<5",
        "Flask-Caching>=2.3,<3",
        "Flask-Limiter>=4.0,<5",
        # GET /metrics: Prometheus text format, aggregated over gunicorn workers (multiprocess).
        "prometheus-client>=0.20,<1",
        "redis>=5,<9",
        "flask-cors>=5,<7",
        "psycopg[binary]>=3.2,<4",
        "gunicorn>=23",
        "python-dotenv>=1.0,<2",
        "swagger-ui-bundle>=1.1,<2",
        # Socket.IO (myproject.realtime); simple-websocket serves the websocket transport.
        "Flask-SocketIO>=5.5,<6",
        "python-socketio>=5.12,<6",
        "simple-websocket>=1.0,<2",
        # gunicorn's gevent worker (the default worker class, chosen by bench/).
        "gevent>=24.10.1",
        "celery[redis]>=5.5,<6",
        "Flask-Mail>=0.10,<0.11",
        # Address rules: normalisation, IDNA domains, SMTPUTF8 (myproject.schemas.fields).
        "email-validator>=2.1,<3",
    ],
    extras_require={
        # OpenTelemetry tracing, on with OTEL_EXPORTER_OTLP_ENDPOINT (myproject/tracing.py);
        # requirements-otel.txt pins these with everything they bring.
        "otel": [
            "opentelemetry-sdk>=1.45,<2",
            "opentelemetry-exporter-otlp-proto-http>=1.45,<2",
            "opentelemetry-instrumentation-flask>=0.66b1",
            "opentelemetry-instrumentation-sqlalchemy>=0.66b1",
            "opentelemetry-instrumentation-redis>=0.66b1",
            "opentelemetry-instrumentation-celery>=0.66b1",
        ],
        "dev": [
            "pytest>=8",
            "pytest-cov>=5",
            "ruff>=0.8",
            "mypy>=1.13",
            "openapi-spec-validator>=0.7",
            # python-socketio's clients against live servers: the threaded one (websocket-client,
            # requests) and the asyncio one (aiohttp; hundreds of sockets in one event loop).
            "python-socketio[client,asyncio_client]>=5.12,<6",
            "aiosmtpd>=1.4,<2",
            "openapi-python-client>=0.29,<0.30",
            "schemathesis>=4.32,<5",
        ],
    },
)

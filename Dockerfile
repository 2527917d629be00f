# pvmon: one image for the API, the collector, the simulated fleet and the one-shot
# migrate job of docker-compose.yml. The embedded PostgreSQL is not used here:
# PVMON_DATABASE_URL points at the TimescaleDB service.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PVMON_DATA_DIR=/var/lib/pvmon

WORKDIR /app
COPY pyproject.toml README.md ./
COPY pvmon ./pvmon
COPY collectors ./collectors
COPY dividends ./dividends
COPY dashboards ./dashboards
COPY simulators ./simulators
COPY examples ./examples
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/pvmon --create-home pvmon

USER pvmon
EXPOSE 8080 9108
CMD ["pvmon", "--help"]

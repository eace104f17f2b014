# Citus with PostGIS, for the `citus` profile of docker/compose.yml (docs/scaling.md).
FROM citusdata/citus:12.1
RUN apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-${PG_MAJOR}-postgis-3" \
    && rm -rf /var/lib/apt/lists/*

# StoreSync production image: one image for the app and the workers.
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm curl unzip \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY storesync ./storesync
COPY workers ./workers
RUN pip install --no-cache-dir .
COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
 && npm install --silent --no-fund --no-audit --prefix .tools bun@1.4.4

ENV PATH="/app/.tools/node_modules/.bin:${PATH}" \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_TELEMETRY_ENABLED=0 \
    STORESYNC_ENV=production \
    STORESYNC_HOST=0.0.0.0
EXPOSE 3000
CMD ["storesync", "run"]

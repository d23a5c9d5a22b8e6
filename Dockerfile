# One image for every role: the API (`motcua serve`), the scheduler (`motcua scheduler`),
# the mock portal (`motcua mock-portal`) and migrations (`motcua migrate`).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/motcua
# WeasyPrint (PDF forms and results) needs Pango and a font with Vietnamese glyphs.
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md alembic.ini requirements.lock ./
# The pinned, hash-checked runtime versions first (make lock), then the app without re-resolving.
RUN pip install --require-hashes -r requirements.lock
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-deps . && useradd --system --uid 10001 motcua && mkdir -p var && chown motcua var
USER motcua
ENV MOTCUA_ENV=prod
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request;urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["motcua", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]

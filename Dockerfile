# One image for every service; docker-compose.yml picks the process with `command`.
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY pyproject.toml README.md ./
COPY common common
COPY services services
COPY launcher launcher
COPY offline offline
COPY models models
COPY docs docs
RUN pip install --no-cache-dir --no-deps -e .
ENV PYTHONUNBUFFERED=1 FT_BIND_HOST=0.0.0.0

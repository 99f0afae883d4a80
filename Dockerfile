# The lrsearch image of docker-compose.yml: `lrsearch worker` (default) and `lrsearch dashboard`.
# torch's default Linux wheel brings its CUDA libraries: the same image trains on GPUs and CPUs.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY lrsearch ./lrsearch
RUN pip install ".[postgres,dashboard]"
COPY studies/*.yaml ./studies/

RUN useradd --create-home lrsearch && mkdir -p /logs && chown lrsearch /logs
USER lrsearch

EXPOSE 8080
CMD ["lrsearch", "worker"]

# One image for every role (api, ingest, worker), chosen by the command:
#   docker build -t dmdt-stream .                                   # CPU (onnxruntime)
#   docker build -t dmdt-stream:gpu --target gpu .                  # CUDA (onnxruntime-gpu)
#   docker run dmdt-stream serve | ingest | worker | replay ...
# Settings come from DMDT_* environment variables (README, deploy/dmdt.env).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY classifier classifier
COPY stream stream
COPY sources sources
COPY services services
COPY training training
RUN pip install ".[cpu,lsst]"

FROM build AS build-gpu
# onnxruntime-gpu with the CUDA and cuDNN libraries from their PyPI wheels (the NVIDIA
# container toolkit provides the driver); the CPU wheel must not sit beside it
RUN pip uninstall -y onnxruntime && pip install ".[gpu,lsst]" "onnxruntime-gpu[cuda,cudnn]"

FROM ${PYTHON_IMAGE} AS runtime-base
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin dmdt
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/tmp/numba \
    DMDT_API_HOST=0.0.0.0
# the model bundles are package data (classifier/models); mount others and set DMDT_MODELS_DIR
WORKDIR /app
EXPOSE 8000 9100
# the API answers /healthz; ingest and worker serve /metrics on DMDT_METRICS_PORT
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; port = os.environ.get('DMDT_METRICS_PORT') or os.environ.get('DMDT_API_PORT', '8000'); path = '/metrics' if os.environ.get('DMDT_METRICS_PORT') else '/healthz'; urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=2)"
ENTRYPOINT ["dmdt"]
CMD ["serve"]

FROM runtime-base AS gpu
COPY --from=build-gpu /opt/venv /opt/venv
ENV DMDT_EXPECT_GPU=true
USER dmdt

FROM runtime-base AS cpu
COPY --from=build /opt/venv /opt/venv
USER dmdt

# The software of every workflow step as one image, for `--software-deployment-method apptainer`:
#   docker build -t mixpipe:0.1.0 .
#   snakemake --software-deployment-method apptainer ...   # the Snakefile's container: docker-daemon://mixpipe:0.1.0
# (or push the image to a registry your cluster reaches and point `container:` there). The workflow folder is
# mounted by Snakemake and put on PYTHONPATH, so the image holds the dependencies, pinned as pyproject.toml.
FROM python:3.11-slim
WORKDIR /opt/mixpipe
COPY pyproject.toml README.md ./
COPY pipeline_lib ./pipeline_lib
RUN pip install --no-cache-dir "torch==2.13.0" && pip install --no-cache-dir . && rm -rf /root/.cache
ENV TOKENIZERS_PARALLELISM=false

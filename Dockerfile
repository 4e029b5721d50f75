# syntax=docker/dockerfile:1.7
# The rapflow image: one image for every command (split, consume, verify, report, ...), with
# `rapflow` as its entrypoint, so Kubernetes manifests pass only the command and its flags.
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/<owner>/rapflow:<tag> .
# Node 24 LTS (package.json engines). Stages: build (compiles TypeScript) and deps (production
# dependencies only) run on the full Node image; the final stage is distroless: Node and our
# files, no shell, no package manager, user 65532.

ARG NODE_IMAGE=node:24.21-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# What the final stage runs with: `npm ci --omit=dev` here, since the final stage has no npm.
# No install scripts run (none of the production dependencies needs one to work).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
# Files rapflow reads at run time, found relative to dist/ (src/config/paths.ts): the Avro
# schemas and the sample data; package.json makes dist/ an ES module package.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY avro ./avro
COPY data ./data
USER 65532:65532
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli/main.js"]
CMD ["--help"]

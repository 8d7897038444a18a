# OpenPaw gateway on Node 24 (the current LTS; Node 20 is supported too, see README). The build
# stage installs production dependencies (better-sqlite3 builds its native module there when no
# prebuilt binary fits) and bundles the gateway with bin/build.mjs (esbuild, a runtime dependency)
# into build/gateway.mjs, which the image runs with plain node, as `npm start` does. src/ ships
# too: the gateway reads its sandbox scripts and programs and its dashboard files from there.
FROM node:24.18.1-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
RUN node bin/build.mjs

FROM node:24.18.1-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8787 OPENPAW_DATA_DIR=/data \
    NODE_OPTIONS=--max-old-space-size=512
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
COPY skills ./skills
COPY --from=deps /app/build ./build
# The image's unprivileged "node" user owns only the data directory.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8787)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# close-fds.sh closes every descriptor above 2 that the container runtime or a supervisor left open
# before node starts: Node passes such descriptors on to every process it spawns (sandboxes too).
CMD ["bash", "src/runtime/sandbox/close-fds.sh", "3", "node", "--enable-source-maps", "build/gateway.mjs", "serve"]

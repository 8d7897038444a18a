#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `openpaw` works straight from a checkout or npm install.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
